/**
 * What authentication costs: RecordSpend against two budget services on the same databases, one
 * authenticated (an ad-server token naming 50 brands), one with AUTH_DISABLED, in interleaved
 * rounds (the machine's noise hits both alike), with ghz and with the Node client.
 *
 *   npm run build && node bench/auth-cost.ts [--calls 8000] [--rounds 4]
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@adbudget/kit";
import { createTestAuth, createTestDatabase } from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { deleteStreams, freePort, ghz, percentile, startService, stop } from "./lib.ts";

const { values } = parseArgs({ options: { calls: { type: "string", default: "8000" }, rounds: { type: "string", default: "4" } } });
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const CALLERS = 64;
const BRANDS = 50;

const tag = `bench${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const stream = `${tag.toUpperCase()}_BUDGET`;
const [brandDb, budgetDb] = [await createTestDatabase(), await createTestDatabase()];
const auth = await createTestAuth();
const ports = { brand: await freePort(), openBrand: await freePort(), on: await freePort(), off: await freePort() };
// Each budget service has a brand service of its own kind (an open one calls without a token).
const brand = (port: number, env: Record<string, string>) =>
  startService("services/brand/dist/main.js", { ...env, METRICS: "off", BRAND_HOST: "127.0.0.1", BRAND_PORT: String(port), BRAND_DATABASE_URL: brandDb.url });
const budget = (port: number, brandPort: number, env: Record<string, string>) =>
  startService("services/budget/dist/main.js", {
    ...env, METRICS: "off", BUDGET_HOST: "127.0.0.1", BUDGET_PORT: String(port), BUDGET_DATABASE_URL: budgetDb.url,
    BRAND_SERVICE_URL: `http://127.0.0.1:${brandPort}`, CAMPAIGN_SERVICE_URL: "none", EVENT_SUBJECT_PREFIX: tag, BUDGET_STREAM: stream,
  });
const brandSvc = await brand(ports.brand, auth.env);
const openBrandSvc = await brand(ports.openBrand, { AUTH_DISABLED: "true", MIGRATE_ON_START: "false" });
const on = await budget(ports.on, ports.brand, auth.env);
const off = await budget(ports.off, ports.openBrand, { AUTH_DISABLED: "true", MIGRATE_ON_START: "false" });

try {
  const brands = createClient(BrandService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${ports.brand}`, interceptors: auth.admin }));
  const brandIds: string[] = [];
  for (let i = 0; i < BRANDS; i++) brandIds.push((await brands.createBrand({ name: `${tag} ${i}`, timeZone: "UTC" })).brand!.id);
  const token = await auth.mint({ sub: "bench:ad-server", role: "ad-server", brands: brandIds });
  const campaignId = "01900000-0000-7000-8000-00000000beef";
  const clients = {
    on: createClient(BudgetService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${ports.on}`, interceptors: [bearerInterceptor(token)] })),
    off: createClient(BudgetService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${ports.off}` })),
  };
  for (const c of Object.values(clients)) await Promise.all(brandIds.map((brandId, i) => c.recordSpend({ eventId: `warm-${i}-${Math.random()}`, brandId, campaignId, amountMicros: 1n })));

  let errors = 0;
  const acc = { node: { on: [0, 0], off: [0, 0] }, ghz: { on: [0, 0], off: [0, 0] } } as Record<"node" | "ghz", Record<"on" | "off", number[]>>;
  const p99 = { node: { on: 0, off: 0 }, ghz: { on: 0, off: 0 } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const which of round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)) {
      const latencies: number[] = [];
      let next = 0;
      const t0 = performance.now();
      await Promise.all(Array.from({ length: CALLERS }, async () => {
        for (let i = next++; i < CALLS; i = next++) {
          const s = performance.now();
          await clients[which].recordSpend({ eventId: `n-${which}-${round}-${i}`, brandId: brandIds[i % BRANDS]!, campaignId, amountMicros: 1000n }).catch(() => errors++);
          latencies.push(performance.now() - s);
        }
      }));
      acc.node[which]![0]! += CALLS;
      acc.node[which]![1]! += (performance.now() - t0) / 1000;
      p99.node[which] = Math.max(p99.node[which], percentile(latencies.sort((a, b) => a - b), 99));
      const r = ghz({
        target: `127.0.0.1:${ports[which]}`,
        call: "adbudget.budget.v1.BudgetService.RecordSpend",
        data: brandIds.map((brandId) => ({ event_id: `g-${which}-${round}-{{.RequestNumber}}`, brand_id: brandId, campaign_id: campaignId, amount_micros: "1000" })),
        metadata: which === "on" ? { authorization: `Bearer ${token}` } : undefined,
        total: CALLS,
        concurrency: CALLERS,
      });
      errors += r.count - (r.statuses.OK ?? 0);
      acc.ghz[which]![0]! += r.statuses.OK ?? 0;
      acc.ghz[which]![1]! += r.seconds;
      p99.ghz[which] = Math.max(p99.ghz[which], r.p99Ms);
    }
    console.error(`  round ${round + 1}/${ROUNDS}`);
  }
  console.log(`\n| client | authenticated calls/s | p99 ms | AUTH_DISABLED calls/s | p99 ms | ratio |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const c of ["ghz", "node"] as const) {
    const rate = (w: "on" | "off") => acc[c][w]![0]! / acc[c][w]![1]!;
    console.log(`| ${c === "ghz" ? "ghz" : "connect-node"} | ${Math.round(rate("on"))} | ${p99[c].on.toFixed(1)} | ${Math.round(rate("off"))} | ${p99[c].off.toFixed(1)} | ${(rate("on") / rate("off")).toFixed(2)} |`);
  }
  console.log(`errors: ${errors}`);
  process.exitCode = errors === 0 ? 0 : 1;
} finally {
  for (const p of [off, on, openBrandSvc, brandSvc]) await stop(p);
  for (const db of [brandDb, budgetDb]) await db.drop();
  await deleteStreams([stream]);
}
