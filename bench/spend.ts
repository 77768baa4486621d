/**
 * Spend throughput and latency, each figure beside its ceiling measured in the same run, in
 * interleaved rounds (the machine's noise hits both alike):
 *
 * - RecordSpend unary, 64 callers, with ghz (a Go client: a Node client on the same two cores is a
 *   bottleneck of its own) and with the Node client; ceiling: a bare connect-node server answering
 *   health Check (bench/bare-server.ts) through the same client.
 * - RecordSpendBatch, 500 events a call, 8 callers; ceiling: plain SQL, 500-row `unnest` inserts
 *   into a copy of the ledger table (same keys and indexes), 8 connections.
 *
 * The services are the real ones (brand, campaign, budget as child processes, authenticated with
 * an ad-server token, fresh databases, NATS). Every brand's daily budget runs out halfway through
 * its scenario, so the exhaustion path (period flag, outbox, relay, JetStream, the campaign
 * service pausing campaigns) is part of what is measured. Errors are counted, never fatal; after
 * the load the bench checks that the ledger holds exactly what was acknowledged, that period
 * totals equal the ledger, that each exhausted period published one event and that the outbox
 * drained. It exits 1 if any check fails or any call failed.
 *
 *   npm run build && node bench/spend.ts [--events 20000] [--rounds 2] [--scenarios unary,node,batch]
 */
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { bearerInterceptor } from "@adbudget/kit";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { Health } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import { addCpu, cpuBetween, cpuSnapshot, ghz, percentile, pidOf, startBareServer, startBenchSystem } from "./lib.ts";
import { checkSpend, type Acknowledged } from "./spend-checks.ts";

const { values } = parseArgs({
  options: {
    events: { type: "string", default: "20000" },
    rounds: { type: "string", default: "2" },
    brands: { type: "string", default: "50" },
    scenarios: { type: "string", default: "unary,node,batch" },
  },
});
const EVENTS = Number(values.events);
const ROUNDS = Number(values.rounds);
const BRANDS = Number(values.brands);
const SCENARIOS = new Set(values.scenarios.split(","));
const CALLERS = 64;
const BATCH = 500;
const BATCH_CALLERS = 8;
const AMOUNT = 1000n;

const system = await startBenchSystem({
  // BENCH_BUDGET_ENV='{"SPEND_CONCURRENCY":"4"}': settings of the budget service to compare.
  replicaEnv: (service) =>
    service === "budget" ? (JSON.parse(process.env.BENCH_BUDGET_ENV ?? "{}") as Record<string, string>) : {},
});
const { auth } = system;
const tag = system.plan.tag;
const budgetDb = system.databases.budget!;
const { port: barePort, process: bare } = await startBareServer();

interface Figure {
  scenario: string;
  client: string;
  events: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** CPU seconds used meanwhile, by process (see cpuBetween). */
  cpu: Record<string, number>;
}

/** Where the machine's CPU goes while a phase runs: the services, PostgreSQL, the client. */
const processes = new Map<number, string>([
  [pidOf(system, "budget"), "budget"],
  [pidOf(system, "campaign"), "campaign"],
  [pidOf(system, "brand"), "brand"],
  [bare.pid!, "bare server"],
]);
async function metered<T>(fn: () => T | Promise<T>): Promise<T & { cpu: Record<string, number> }> {
  const a = cpuSnapshot([...processes.keys()]);
  const r = await fn();
  return { ...r, cpu: cpuBetween(a, cpuSnapshot([...processes.keys()]), processes) };
}
const figures: { measured: Figure; ceiling: Figure }[] = [];
const acknowledged: Acknowledged = new Map();
/** ghz reports counts, not which call failed: its events are checked as a whole (prefix "gu"). */
const ghzEvents = { ok: 0, sent: 0 };
let failedCalls = 0;

/** Sums figures of the same scenario over rounds (events and seconds add; latencies: worst round). */
function merge(list: Figure[]): Figure {
  return list.reduce((a, b) => ({
    ...a,
    events: a.events + b.events,
    seconds: a.seconds + b.seconds,
    p50Ms: Math.max(a.p50Ms, b.p50Ms),
    p99Ms: Math.max(a.p99Ms, b.p99Ms),
    errors: a.errors + b.errors,
    cpu: addCpu(a.cpu, b.cpu),
  }));
}

/** `n` calls of `call` by `callers` concurrent loops; latencies and failures counted. */
async function drive(
  n: number,
  callers: number,
  call: (i: number) => Promise<number>,
): Promise<{ seconds: number; p50Ms: number; p99Ms: number; errors: number; events: number }> {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  let events = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      for (let i = next++; i < n; i = next++) {
        const s = performance.now();
        try {
          const n = await call(i);
          events += n;
        } catch (err) {
          errors++;
          if (errors <= 5) console.error(`  call failed: ${(err as Error).message}`);
        }
        latencies.push(performance.now() - s);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return {
    seconds: (performance.now() - t0) / 1000,
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    errors,
    events,
  };
}

const ack = (brandId: string, amount: bigint, count = 1) => {
  const a = acknowledged.get(brandId) ?? { amount: 0n, count: 0 };
  a.amount += amount;
  a.count += count;
  acknowledged.set(brandId, a);
};

try {
  const admin = auth.admin;
  const brands = createClient(BrandService, createGrpcTransport({ baseUrl: system.urls.brand, interceptors: admin }));
  const budgetAdmin = createClient(
    BudgetService,
    createGrpcTransport({ baseUrl: system.urls.budget, interceptors: admin }),
  );
  const campaigns = createClient(
    CampaignService,
    createGrpcTransport({ baseUrl: system.urls.campaign, interceptors: admin }),
  );
  const zones = ["UTC", "America/New_York", "Europe/London", "Asia/Kathmandu", "Australia/Lord_Howe"];

  /** BRANDS brands with a campaign each; the daily limit runs out after half of `eventsPerBrand`. */
  async function brandSet(name: string, eventsPerBrand: number): Promise<{ brandId: string; campaignId: string }[]> {
    const out: { brandId: string; campaignId: string }[] = [];
    for (let i = 0; i < BRANDS; i++) {
      const { brand } = await brands.createBrand({ name: `${tag} ${name} ${i}`, timeZone: zones[i % zones.length] });
      await budgetAdmin.setBudget({
        brandId: brand!.id,
        dailyLimitMicros: AMOUNT * BigInt(Math.floor(eventsPerBrand / 2)),
      });
      const { campaign } = await campaigns.createCampaign({ brandId: brand!.id, name: `c${i}` });
      out.push({ brandId: brand!.id, campaignId: campaign!.id });
    }
    return out;
  }
  const unaryPerRound = EVENTS;
  const batchPerRound = EVENTS * 5;
  const sets = {
    ghz: await brandSet("ghz", (unaryPerRound * ROUNDS) / BRANDS),
    node: await brandSet("node", (unaryPerRound * ROUNDS) / BRANDS),
    batch: await brandSet("batch", (batchPerRound * ROUNDS) / BRANDS),
  };
  const all = [...sets.ghz, ...sets.node, ...sets.batch];
  const adServer = await auth.mint({ sub: "bench:ad-server", role: "ad-server", brands: all.map((s) => s.brandId) });
  const spend = createClient(
    BudgetService,
    createGrpcTransport({ baseUrl: system.urls.budget, interceptors: [bearerInterceptor(adServer)] }),
  );
  const bareHealth = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${barePort}` }));

  // Warm-up: JIT, connection pools, prepared statements, the directories' caches, zone locks.
  console.error("warm-up");
  await Promise.all(
    all.map((s, i) =>
      spend
        .recordSpend({ eventId: `warm-${i}`, brandId: s.brandId, campaignId: s.campaignId, amountMicros: 1n })
        .then(() => ack(s.brandId, 1n)),
    ),
  );
  await Promise.all(Array.from({ length: 500 }, () => bareHealth.check({})));

  // 1. Unary with ghz: RecordSpend against the bare server's health Check.
  if (SCENARIOS.has("unary")) {
    const measured: Figure[] = [];
    const ceiling: Figure[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of round % 2 === 0 ? (["ceiling", "measured"] as const) : (["measured", "ceiling"] as const)) {
        if (which === "ceiling") {
          const r = await metered(() =>
            ghz({
              target: `127.0.0.1:${barePort}`,
              call: "grpc.health.v1.Health.Check",
              data: {},
              total: unaryPerRound,
              concurrency: CALLERS,
            }),
          );
          const errors = r.count - (r.statuses.OK ?? 0);
          ceiling.push({
            scenario: "",
            client: "ghz",
            events: r.statuses.OK ?? 0,
            seconds: r.seconds,
            p50Ms: r.p50Ms,
            p99Ms: r.p99Ms,
            errors,
            cpu: r.cpu,
          });
        } else {
          const r = await metered(() =>
            ghz({
              target: new URL(system.urls.budget).host,
              call: "adbudget.budget.v1.BudgetService.RecordSpend",
              // ghz sends the messages of an array round-robin by request number: brand = n % BRANDS.
              data: sets.ghz.map((s) => ({
                event_id: `gu${round}-{{.RequestNumber}}`,
                brand_id: s.brandId,
                campaign_id: s.campaignId,
                amount_micros: AMOUNT.toString(),
              })),
              metadata: { authorization: `Bearer ${adServer}` },
              total: unaryPerRound,
              concurrency: CALLERS,
            }),
          );
          const ok = r.statuses.OK ?? 0;
          const errors = r.count - ok;
          ghzEvents.ok += ok;
          ghzEvents.sent += r.count;
          failedCalls += errors;
          if (errors > 0) console.error(`  ghz RecordSpend: calls not OK: ${JSON.stringify(r.statuses)}`);
          measured.push({
            scenario: "",
            client: "ghz",
            events: ok,
            seconds: r.seconds,
            p50Ms: r.p50Ms,
            p99Ms: r.p99Ms,
            errors,
            cpu: r.cpu,
          });
        }
      }
      console.error(`  unary (ghz): round ${round + 1}/${ROUNDS}`);
    }
    figures.push({
      measured: { ...merge(measured), scenario: `RecordSpend unary, ${CALLERS} callers` },
      ceiling: { ...merge(ceiling), scenario: "bare connect-node health Check" },
    });
  }

  // 2. Unary with the Node client (the typed Connect client our services use).
  if (SCENARIOS.has("node")) {
    const measured: Figure[] = [];
    const ceiling: Figure[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of round % 2 === 0 ? (["ceiling", "measured"] as const) : (["measured", "ceiling"] as const)) {
        if (which === "ceiling") {
          const r = await metered(() => drive(unaryPerRound, CALLERS, async () => (await bareHealth.check({}), 1)));
          ceiling.push({ scenario: "", client: "connect-node", ...r });
        } else {
          const r = await metered(() =>
            drive(unaryPerRound, CALLERS, async (i) => {
              const s = sets.node[i % BRANDS];
              await spend.recordSpend({
                eventId: `nu${round}-${i}`,
                brandId: s.brandId,
                campaignId: s.campaignId,
                amountMicros: AMOUNT,
              });
              ack(s.brandId, AMOUNT);
              return 1;
            }),
          );
          failedCalls += r.errors;
          measured.push({ scenario: "", client: "connect-node", ...r });
        }
      }
      console.error(`  unary (node client): round ${round + 1}/${ROUNDS}`);
    }
    figures.push({
      measured: { ...merge(measured), scenario: `RecordSpend unary, ${CALLERS} callers` },
      ceiling: { ...merge(ceiling), scenario: "bare connect-node health Check" },
    });
  }

  // 3. Batches against plain SQL into a copy of the ledger table.
  if (SCENARIOS.has("batch")) {
    const pool = new pg.Pool({ connectionString: budgetDb.url, max: BATCH_CALLERS });
    await pool.query(
      "create schema ceiling; create table ceiling.spend_events (like public.spend_events including all)",
    );
    const measured: Figure[] = [];
    const ceiling: Figure[] = [];
    const calls = batchPerRound / BATCH;
    for (let round = 0; round < ROUNDS; round++) {
      for (const which of round % 2 === 0 ? (["ceiling", "measured"] as const) : (["measured", "ceiling"] as const)) {
        if (which === "ceiling") {
          const r = await metered(() =>
            drive(calls, BATCH_CALLERS, async (b) => {
              const es = Array.from({ length: BATCH }, (_, k) => ({
                id: `sql${round}-${b}-${k}`,
                s: sets.batch[(b * BATCH + k) % BRANDS],
              }));
              const now = new Date();
              await pool.query({
                name: "ceiling",
                text: `insert into ceiling.spend_events (event_id, brand_id, campaign_id, amount_micros, occurred_at, recorded_at, day, month, brand_archived)
                     select * from unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::timestamptz[], $5::timestamptz[], $6::date[], $6::date[], $7::bool[])`,
                values: [
                  es.map((e) => e.id),
                  es.map((e) => e.s.brandId),
                  es.map((e) => e.s.campaignId),
                  es.map(() => AMOUNT.toString()),
                  es.map(() => now),
                  es.map(() => "2026-12-01"),
                  es.map(() => false),
                ],
              });
              return BATCH;
            }),
          );
          ceiling.push({ scenario: "", client: "pg", ...r });
        } else {
          const r = await metered(() =>
            drive(calls, BATCH_CALLERS, async (b) => {
              const events = Array.from({ length: BATCH }, (_, k) => {
                const s = sets.batch[(b * BATCH + k) % BRANDS];
                return {
                  eventId: `nb${round}-${b}-${k}`,
                  brandId: s.brandId,
                  campaignId: s.campaignId,
                  amountMicros: AMOUNT,
                };
              });
              const { results } = await spend.recordSpendBatch({ events });
              let ok = 0;
              results.forEach((res, k) => {
                if (res.error) {
                  failedCalls++;
                  if (failedCalls <= 5) console.error(`  batch event failed: ${res.error.message}`);
                } else {
                  ok++;
                  ack(events[k].brandId, AMOUNT);
                }
              });
              return ok;
            }),
          );
          failedCalls += r.errors;
          measured.push({ scenario: "", client: "connect-node", ...r });
        }
      }
      console.error(`  batch: round ${round + 1}/${ROUNDS}`);
    }
    await pool.end();
    figures.push({
      measured: { ...merge(measured), scenario: `RecordSpendBatch, ${BATCH}/call, ${BATCH_CALLERS} callers` },
      ceiling: { ...merge(ceiling), scenario: `plain SQL, ${BATCH}-row unnest insert, ${BATCH_CALLERS} connections` },
    });
  }

  const checks = await checkSpend(budgetDb.url, {
    acknowledged,
    ghz: { ...ghzEvents, prefix: "gu", amount: AMOUNT },
    exhaustible: [
      ...(SCENARIOS.has("unary") ? sets.ghz : []),
      ...(SCENARIOS.has("node") ? sets.node : []),
      ...(SCENARIOS.has("batch") ? sets.batch : []),
    ].map((s) => s.brandId),
  });

  console.log(
    `\n| scenario | client | events | events/s | p50 ms | p99 ms | errors | ceiling (same run) | ceiling events/s | ceiling p99 ms | ratio |`,
  );
  console.log(`| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |`);
  for (const { measured: m, ceiling: c } of figures) {
    const rate = (f: Figure) => f.events / f.seconds;
    console.log(
      `| ${m.scenario} | ${m.client} | ${m.events} | ${Math.round(rate(m))} | ${m.p50Ms.toFixed(1)} | ${m.p99Ms.toFixed(1)} | ${m.errors} | ${c.scenario} | ${Math.round(rate(c))} | ${c.p99Ms.toFixed(1)} | ${(rate(m) / rate(c)).toFixed(2)} |`,
    );
  }
  console.log(
    `\nCPU milliseconds per event while each ran (this machine has 2 cores; "client" is the load tool and everything else):`,
  );
  const names = ["budget", "campaign", "brand", "bare server", "postgres", "client"];
  console.log(`| phase | ${names.join(" | ")} | machine idle |`);
  console.log(`| --- | ${names.map(() => "---:").join(" | ")} | ---: |`);
  for (const f of figures.flatMap((x) => [x.measured, x.ceiling])) {
    const total =
      Object.entries(f.cpu)
        .filter(([k]) => k !== "idle")
        .reduce((a, [, v]) => a + v, 0) + f.cpu.idle;
    console.log(
      `| ${f.scenario} (${f.client}) | ${names.map((n) => ((f.cpu[n] * 1000) / f.events).toFixed(3)).join(" | ")} | ${((f.cpu.idle / total) * 100).toFixed(0)}% |`,
    );
  }
  console.log(`\nchecks after the load:`);
  for (const c of checks) console.log(`  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.figures}`);
  console.log(`failed calls or events: ${failedCalls}`);
  process.exitCode = checks.every((c) => c.ok) && failedCalls === 0 ? 0 : 1;
} finally {
  await bare.stop();
  await system.stop();
}
