import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type BrandHarness, PG_URL, startBrandHarness, startTcpProxy, type TcpProxy } from "@adbudget/testing";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@adbudget/proto/grpc/health/v1/health_pb.js";

let h: BrandHarness;
let proxy: TcpProxy;
beforeAll(async () => {
  const pg = new URL(PG_URL);
  proxy = await startTcpProxy(pg.hostname, Number(pg.port || 5432));
  // The service reaches its database only through the proxy, which the test can cut.
  h = await startBrandHarness({
    databaseUrl: (db) => {
      const url = new URL(db.url);
      url.host = `127.0.0.1:${proxy.port}`;
      return url.toString();
    },
  });
});
afterAll(async () => {
  await h?.close();
  await proxy?.close();
});

async function statusEventually(check: () => Promise<Status>, want: Status, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: Status | undefined;
  while (Date.now() < deadline) {
    last = await check();
    if (last === want) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`health stayed ${Status[last ?? 0]}, wanted ${Status[want]}`);
}

/** The HTTP status of one of the metrics port's probes (what the kubelet asks under TLS). */
async function probe(path: "/livez" | "/readyz"): Promise<number> {
  return (await fetch(`http://127.0.0.1:${h.app.server.metricsPort}${path}`)).status;
}

it("reports NOT_SERVING while the database is unreachable and SERVING once it is back", async () => {
  const health = createClient(Health, createGrpcTransport({ baseUrl: h.app.server.url }));
  const check = async () => (await health.check({ service: "" })).status;
  const brandCheck = async () => (await health.check({ service: "adbudget.brand.v1.BrandService" })).status;
  const liveness = async () => (await health.check({ service: "liveness" })).status;

  // Watch sees every transition, in order.
  const watched: Status[] = [];
  const abort = new AbortController();
  const watching = (async () => {
    try {
      for await (const res of health.watch({ service: "" }, { signal: abort.signal })) watched.push(res.status);
    } catch {
      // aborted at the end of the test
    }
  })();

  await statusEventually(check, Status.SERVING);
  expect(await probe("/readyz")).toBe(200);
  const { brand: before } = await h.client.createBrand({ name: "Before outage", timeZone: "Europe/Paris" });
  await proxy.cut();
  await statusEventually(check, Status.NOT_SERVING);
  expect(await brandCheck()).toBe(Status.NOT_SERVING);
  // Unready, not dead: the liveness probe (deploy/k8s) must not restart pods for the database.
  expect(await liveness()).toBe(Status.SERVING);
  expect(await probe("/livez")).toBe(200);
  expect(await probe("/readyz")).toBe(503);

  await proxy.restore();
  await statusEventually(check, Status.SERVING);
  expect(await brandCheck()).toBe(Status.SERVING);
  expect(await probe("/readyz")).toBe(200);
  // The service works again, and what was stored before is still there.
  const { brand: after } = await h.client.createBrand({ name: "After outage" });
  expect((await h.client.getBrand({ id: before!.id })).brand).toMatchObject({
    name: "Before outage",
    timeZone: "Europe/Paris",
    etag: before!.etag,
  });
  const { brands } = await h.client.listBrands({ pageSize: 1000 });
  expect(brands.map((b) => b.id)).toEqual(expect.arrayContaining([before!.id, after!.id]));

  await new Promise((r) => setTimeout(r, 300));
  abort.abort();
  await watching;
  expect(watched).toEqual([Status.SERVING, Status.NOT_SERVING, Status.SERVING]);
});

it("answers NOT_FOUND for a service it does not serve", async () => {
  const health = createClient(Health, createGrpcTransport({ baseUrl: h.app.server.url }));
  await expect(health.check({ service: "adbudget.budget.v1.BudgetService" })).rejects.toMatchObject({ code: 5 });
});
