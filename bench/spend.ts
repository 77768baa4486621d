/**
 * RecordSpend throughput and latency, against real brand and budget services (child processes,
 * fresh databases) through a real gRPC client over HTTP/2, compared with the ceiling: the same
 * ledger rows written by plain SQL in batches. The services run authenticated (an ad-server
 * token), as in production; a second pair on the same databases runs with AUTH_DISABLED, and the
 * cost of authentication is measured by interleaved rounds against both, in the same run.
 *
 *   npm run build && node bench/spend.ts [--events 20000] [--concurrency 64] [--batch 500]
 */
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { bearerInterceptor } from "@adbudget/kit";
import { createTestAuth, createTestDatabase } from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { Health } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import { freePort, ghz, printTable, startService, stop, type Row } from "./lib.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "64" },
    batch: { type: "string", default: "500" },
    brands: { type: "string", default: "50" },
  },
});
const EVENTS = Number(values.events);
const CONCURRENCY = Number(values.concurrency);
const BATCH = Number(values.batch);
const BRANDS = Number(values.brands);

const brandDb = await createTestDatabase();
const budgetDb = await createTestDatabase();
const ceilingDb = await createTestDatabase();
const [brandPort, budgetPort, openBrandPort, openBudgetPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
const tag = `bench${Date.now().toString(36)}`;
const auth = await createTestAuth();
console.error(`starting brand :${brandPort} and budget :${budgetPort} (authenticated), and :${openBrandPort}, :${openBudgetPort} (AUTH_DISABLED)`);
const pair = async (brandAt: number, budgetAt: number, authEnv: Record<string, string>) => {
  const brandProc = await startService("services/brand/dist/main.js", {
    METRICS: "off", ...authEnv,
    BRAND_PORT: String(brandAt), BRAND_HOST: "127.0.0.1", BRAND_DATABASE_URL: brandDb.url,
  });
  const budgetProc = await startService("services/budget/dist/main.js", {
    ...authEnv,
    BUDGET_PORT: String(budgetAt), BUDGET_HOST: "127.0.0.1", BUDGET_DATABASE_URL: budgetDb.url,
    BRAND_SERVICE_URL: `http://127.0.0.1:${brandAt}`, EVENT_SUBJECT_PREFIX: tag, BUDGET_STREAM: `${tag.toUpperCase()}_BUDGET`,
    BUDGET_DB_POOL_MAX: "10", CAMPAIGN_SERVICE_URL: "none", METRICS: "off",
  });
  return [brandProc, budgetProc] as const;
};
const [brand, budget] = await pair(brandPort, budgetPort, process.env.BENCH_AA ? { AUTH_DISABLED: "true" } : auth.env);
const [openBrand, openBudget] = await pair(openBrandPort, openBudgetPort, { AUTH_DISABLED: "true", MIGRATE_ON_START: "false" });

const rows: Row[] = [];
try {
  const brands = createClient(BrandService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${brandPort}`, interceptors: auth.admin }));
  const admin = createClient(BudgetService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${budgetPort}`, interceptors: auth.admin }));
  const brandIds: string[] = [];
  const zones = ["UTC", "America/New_York", "Europe/London", "Asia/Kathmandu", "Australia/Lord_Howe"];
  for (let i = 0; i < BRANDS; i++) {
    const { brand: b } = await brands.createBrand({ name: `bench ${tag} ${i}`, timeZone: zones[i % zones.length] });
    brandIds.push(b!.id);
    await admin.setBudget({ brandId: b!.id, dailyLimitMicros: 1_000_000_000n });
  }
  // What an ad server sends: its token names the brands it reports for.
  const adServer = process.env.BENCH_ADMIN_TOKEN ? auth.adminToken : await auth.mint({ sub: "bench:ad-server", role: "ad-server", brands: brandIds });
  const spend = createClient(BudgetService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${budgetPort}`, interceptors: [bearerInterceptor(adServer)] }));
  const openSpend = createClient(BudgetService, createGrpcTransport({ baseUrl: `http://127.0.0.1:${openBudgetPort}` }));
  const campaign = "01900000-0000-7000-8000-00000000beef";
  const event = (run: string, i: number) => ({
    eventId: `${run}-${i}`,
    brandId: brandIds[i % brandIds.length]!,
    campaignId: campaign,
    amountMicros: BigInt(1000 + (i % 977)),
  });

  // Warm-up: JIT, connection pools, prepared statements.
  await Promise.all(Array.from({ length: 200 }, (_, i) => spend.recordSpend(event("warm", i))));
  await Promise.all(Array.from({ length: 200 }, (_, i) => openSpend.recordSpend(event("warm-open", i))));

  // 0. What authentication costs: interleaved rounds against the authenticated and the open pair
  //    (the machine's noise hits both alike), RecordSpend unary, CONCURRENCY callers.
  {
    const ROUNDS = 4;
    const per = Math.max(1000, Math.floor(EVENTS / ROUNDS / 2));
    const time = { on: 0, off: 0 };
    const lat: Record<"on" | "off", number[]> = { on: [], off: [] };
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)) {
        const client = which === "on" ? spend : openSpend;
        let next = 0;
        const t0 = performance.now();
        await Promise.all(
          Array.from({ length: CONCURRENCY }, async () => {
            for (let i = next++; i < per; i = next++) {
              const s = performance.now();
              await client.recordSpend(event(`auth-${which}-${round}`, i));
              lat[which].push(performance.now() - s);
            }
          }),
        );
        time[which] += (performance.now() - t0) / 1000;
      }
      console.error(`  auth cost: round ${round + 1}/${ROUNDS}`);
    }
    rows.push({ name: `RecordSpend unary, ${CONCURRENCY} callers, authenticated (ad-server token)`, events: per * ROUNDS, seconds: time.on, latenciesMs: lat.on });
    rows.push({ name: `RecordSpend unary, ${CONCURRENCY} callers, AUTH_DISABLED (same run, interleaved)`, events: per * ROUNDS, seconds: time.off, latenciesMs: lat.off });
  }

  // 0b. The same comparison with ghz, a Go client: a Node client on the same two cores is itself
  //     a bottleneck (its own header handling), which would flatter or blur the difference.
  {
    const ROUNDS = 4;
    const per = Math.max(2000, Math.floor(EVENTS / ROUNDS));
    const acc = { on: { n: 0, s: 0, p99: [] as number[] }, off: { n: 0, s: 0, p99: [] as number[] } };
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of round % 2 === 0 ? (["on", "off"] as const) : (["off", "on"] as const)) {
        const r = ghz({
          target: `127.0.0.1:${which === "on" ? budgetPort : openBudgetPort}`,
          call: "adbudget.budget.v1.BudgetService.RecordSpend",
          data: { event_id: `ghz-${which}-${round}-{{.WorkerID}}-{{.RequestNumber}}`, brand_id: brandIds[round % brandIds.length], campaign_id: campaign, amount_micros: "1000" },
          metadata: which === "on" ? { authorization: `Bearer ${adServer}` } : undefined,
          total: per,
          concurrency: CONCURRENCY,
        });
        const bad = Object.entries(r.statuses).filter(([k]) => k !== "OK");
        if (bad.length > 0) console.error(`  ghz ${which}: calls not OK: ${JSON.stringify(Object.fromEntries(bad))}`);
        acc[which].n += r.statuses.OK ?? 0;
        acc[which].s += r.seconds;
        acc[which].p99.push(r.p99Ms);
      }
    }
    console.log(`\nghz RecordSpend, ${CONCURRENCY} workers, ${ROUNDS} interleaved rounds: authenticated ${Math.round(acc.on.n / acc.on.s)}/s (p99 ${Math.max(...acc.on.p99).toFixed(1)} ms), AUTH_DISABLED ${Math.round(acc.off.n / acc.off.s)}/s (p99 ${Math.max(...acc.off.p99).toFixed(1)} ms): ratio ${((acc.on.n / acc.on.s) / (acc.off.n / acc.off.s)).toFixed(3)}`);
  }

  // 1. RecordSpend, unary, CONCURRENCY callers.
  {
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < EVENTS; i = next++) {
          const s = performance.now();
          await spend.recordSpend(event("unary", i));
          latencies.push(performance.now() - s);
          if (i % Math.floor(EVENTS / 5) === 0) console.error(`  unary: ${i}/${EVENTS}`);
        }
      }),
    );
    rows.push({ name: `RecordSpend unary, ${CONCURRENCY} callers`, events: EVENTS, seconds: (performance.now() - t0) / 1000, latenciesMs: latencies });
  }

  // 1b. The RPC ceiling: a no-op call (health Check) through the same stack and connection.
  {
    const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${budgetPort}`, interceptors: [bearerInterceptor(adServer)] }));
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        for (let i = next++; i < EVENTS; i = next++) {
          const s = performance.now();
          await health.check({ service: "" });
          latencies.push(performance.now() - s);
        }
      }),
    );
    rows.push({ name: `no-op RPC (health Check), ${CONCURRENCY} callers (RPC ceiling)`, events: EVENTS, seconds: (performance.now() - t0) / 1000, latenciesMs: latencies });
  }

  // 2. RecordSpendBatch, BATCH events per call, 8 callers.
  {
    const total = EVENTS * 5;
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let b = next++; b * BATCH < total; b = next++) {
          const events = Array.from({ length: BATCH }, (_, k) => event("batch", b * BATCH + k));
          const s = performance.now();
          const { results } = await spend.recordSpendBatch({ events });
          latencies.push(performance.now() - s);
          if (results.some((r) => r.error)) throw new Error(`batch error: ${results.find((r) => r.error)!.error!.message}`);
        }
      }),
    );
    rows.push({ name: `RecordSpendBatch, ${BATCH}/call, 8 callers (latency per call)`, events: total, seconds: (performance.now() - t0) / 1000, latenciesMs: latencies });
  }

  // 3. Ceiling: the same ledger rows, plain SQL, batches of BATCH, 8 connections, no service.
  {
    const total = EVENTS * 5;
    const pool = new pg.Pool({ connectionString: ceilingDb.url, max: 8 });
    await pool.query(`create table spend_events (event_id text primary key, brand_id uuid not null, campaign_id uuid not null,
      amount_micros bigint not null, occurred_at timestamptz not null, recorded_at timestamptz not null, day date not null,
      month date not null, brand_archived boolean not null default false)`);
    await pool.query("create index on spend_events (brand_id, occurred_at desc, event_id desc)");
    await pool.query("create index on spend_events (campaign_id, occurred_at desc, event_id desc)");
    const latencies: number[] = [];
    let next = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let b = next++; b * BATCH < total; b = next++) {
          const es = Array.from({ length: BATCH }, (_, k) => event("sql", b * BATCH + k));
          const now = new Date();
          const s = performance.now();
          await pool.query({
            name: "ceiling",
            text: `insert into spend_events select * from unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::timestamptz[],
                   $5::timestamptz[], $6::date[], $6::date[], $7::bool[]) on conflict do nothing`,
            values: [es.map((e) => e.eventId), es.map((e) => e.brandId), es.map((e) => e.campaignId),
              es.map((e) => e.amountMicros.toString()), es.map(() => now), es.map(() => "2026-11-28"), es.map(() => false)],
          });
          latencies.push(performance.now() - s);
        }
      }),
    );
    rows.push({ name: `plain SQL insert, ${BATCH}/statement, 8 connections (ceiling)`, events: total, seconds: (performance.now() - t0) / 1000, latenciesMs: latencies });
    await pool.end();
  }

  printTable(rows);
  const rate = (r: Row) => r.events / r.seconds;
  console.log(`\nauthenticated / AUTH_DISABLED = ${(rate(rows[0]!) / rate(rows[1]!)).toFixed(3)}`);
  console.log(`RecordSpend unary / no-op RPC = ${(rate(rows[2]!) / rate(rows[3]!)).toFixed(2)}`);
  console.log(`RecordSpendBatch / plain-SQL ceiling = ${(rate(rows[4]!) / rate(rows[5]!)).toFixed(2)}`);
} finally {
  for (const p of [openBudget, openBrand, budget, brand]) await stop(p);
  for (const db of [brandDb, budgetDb, ceilingDb]) await db.drop();
}
