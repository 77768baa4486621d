/**
 * What authentication costs: RecordSpend against two budget services on the same databases, one
 * authenticated (an ad-server token naming 50 brands), one with AUTH_DISABLED, in interleaved
 * rounds (the machine's noise hits both alike), with ghz and with the Node client. With
 * `--compare quotas`, what the callers' quotas cost: both authenticated, one with QUOTAS on (the
 * token's principal and its brand set: two buckets a call), one with QUOTAS off. The load stays
 * under one ad server's 5,000 events a second on this machine (~2,300 calls/s); on a faster one
 * the quota refuses calls, and they are counted as errors. After the load the
 * ledger must hold exactly the calls that were answered OK.
 *
 *   npm run build && node bench/auth-cost.ts [--calls 8000] [--rounds 4] [--compare auth|quotas]
 */
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@adbudget/kit";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { ghz, percentile, startBenchSystem } from "./lib.ts";

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "8000" },
    rounds: { type: "string", default: "4" },
    compare: { type: "string", default: "auth" },
  },
});
const CALLS = Number(values.calls);
const ROUNDS = Number(values.rounds);
const QUOTAS = values.compare === "quotas";
if (!QUOTAS && values.compare !== "auth") throw new Error(`--compare auth or quotas, not ${values.compare}`);
const CALLERS = 64;
const BRANDS = 50;

// Two replicas each of the brand and budget services on the same databases: replica 0
// authenticated (with QUOTAS on, compared with quotas), replica 1 with AUTH_DISABLED (authenticated
// with QUOTAS off), each budget service with a brand service of its own kind (an open one calls
// without a token). No campaign service.
// Quotas on the measured budget service alone: the bench's admin creates its brands at machine
// speed, past a person's quota.
const armEnv = (service: string, i: number): Record<string, string> =>
  QUOTAS ? { QUOTAS: service === "budget" && i === 0 ? "on" : "off" } : i === 1 ? { AUTH_DISABLED: "true" } : {};
const system = await startBenchSystem({
  services: ["brand", "budget"],
  replicas: { brand: 2, budget: 2 },
  replicaEnv: (service, i, urls) => ({
    ...armEnv(service, i),
    ...(service === "budget" ? { BRAND_SERVICE_URL: urls.brand[i], CAMPAIGN_SERVICE_URL: "none" } : {}),
  }),
});
const { auth } = system;
const tag = system.plan.tag;
const [on, off] = system.replicasOf("budget").map((r) => r.url);
const ports = { on: new URL(on).port, off: new URL(off).port };

try {
  const brands = createClient(
    BrandService,
    createGrpcTransport({ baseUrl: system.urls.brand, interceptors: auth.admin }),
  );
  const brandIds: string[] = [];
  for (let i = 0; i < BRANDS; i++)
    brandIds.push((await brands.createBrand({ name: `${tag} ${i}`, timeZone: "UTC" })).brand!.id);
  const token = await auth.mint({ sub: "bench:ad-server", role: "ad-server", brands: brandIds });
  const campaignId = "01900000-0000-7000-8000-00000000beef";
  const clients = {
    on: createClient(BudgetService, createGrpcTransport({ baseUrl: on, interceptors: [bearerInterceptor(token)] })),
    off: createClient(
      BudgetService,
      createGrpcTransport({ baseUrl: off, interceptors: QUOTAS ? [bearerInterceptor(token)] : [] }),
    ),
  };
  for (const c of Object.values(clients))
    await Promise.all(
      brandIds.map((brandId, i) =>
        c.recordSpend({ eventId: `warm-${i}-${Math.random()}`, brandId, campaignId, amountMicros: 1n }),
      ),
    );

  let errors = 0;
  let answered = 0;
  const acc: Record<"node" | "ghz", Record<"on" | "off", number[]>> = {
    node: { on: [0, 0], off: [0, 0] },
    ghz: { on: [0, 0], off: [0, 0] },
  };
  const p99 = { node: { on: 0, off: 0 }, ghz: { on: 0, off: 0 } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const which of round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)) {
      const latencies: number[] = [];
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: CALLERS }, async () => {
          for (let i = next++; i < CALLS; i = next++) {
            const s = performance.now();
            await clients[which]
              .recordSpend({
                eventId: `n-${which}-${round}-${i}`,
                brandId: brandIds[i % BRANDS],
                campaignId,
                amountMicros: 1000n,
              })
              .then(
                () => answered++,
                () => errors++,
              );
            latencies.push(performance.now() - s);
          }
        }),
      );
      acc.node[which][0] += CALLS;
      acc.node[which][1] += (performance.now() - t0) / 1000;
      p99.node[which] = Math.max(
        p99.node[which],
        percentile(
          latencies.sort((a, b) => a - b),
          99,
        ),
      );
      const r = ghz({
        target: `127.0.0.1:${ports[which]}`,
        call: "adbudget.budget.v1.BudgetService.RecordSpend",
        data: brandIds.map((brandId) => ({
          event_id: `g-${which}-${round}-{{.RequestNumber}}`,
          brand_id: brandId,
          campaign_id: campaignId,
          amount_micros: "1000",
        })),
        metadata: which === "on" || QUOTAS ? { authorization: `Bearer ${token}` } : undefined,
        total: CALLS,
        concurrency: CALLERS,
      });
      errors += r.count - (r.statuses.OK ?? 0);
      answered += r.statuses.OK ?? 0;
      acc.ghz[which][0] += r.statuses.OK ?? 0;
      acc.ghz[which][1] += r.seconds;
      p99.ghz[which] = Math.max(p99.ghz[which], r.p99Ms);
    }
    console.error(`  round ${round + 1}/${ROUNDS}`);
  }
  // The results, after the load: every call answered OK is in the ledger once, at 1,000 micros.
  const budget = createClient(BudgetService, createGrpcTransport({ baseUrl: on, interceptors: auth.admin }));
  let stored = 0n;
  for (const brandId of brandIds)
    stored += (await budget.getBudgetStatus({ brandId })).status?.month?.spentMicros ?? 0n;
  const expected = BigInt(answered) * 1000n + BigInt(2 * BRANDS);
  if (stored !== expected) {
    console.error(`the ledger holds ${stored} micros, the answered calls make ${expected}`);
    errors++;
  }
  const [onLabel, offLabel] = QUOTAS ? ["QUOTAS on", "QUOTAS off"] : ["authenticated", "AUTH_DISABLED"];
  console.log(`\n| client | ${onLabel} calls/s | p99 ms | ${offLabel} calls/s | p99 ms | ratio |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: |`);
  for (const c of ["ghz", "node"] as const) {
    const rate = (w: "on" | "off") => acc[c][w][0] / acc[c][w][1];
    console.log(
      `| ${c === "ghz" ? "ghz" : "connect-node"} | ${Math.round(rate("on"))} | ${p99[c].on.toFixed(1)} | ${Math.round(rate("off"))} | ${p99[c].off.toFixed(1)} | ${(rate("on") / rate("off")).toFixed(2)} |`,
    );
  }
  console.log(`errors: ${errors}; ledger: ${stored} micros for ${answered} calls answered OK (verified)`);
  process.exitCode = errors === 0 ? 0 : 1;
} finally {
  await system.stop();
}
