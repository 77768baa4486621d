/**
 * The ad-server SDK (@adbudget/client, docs/sdk.md) against the built services as processes:
 *   1. lookups: `ServingCache.isServing` over a table of campaigns, per second and per lookup,
 *      beside a bare Map.get + comparison (the floor for any in-memory answer);
 *   2. spend: the SpendReporter's throughput from `report` to acknowledged, beside
 *      RecordSpendBatch called directly (same batch size and concurrency: the ceiling), with
 *      errors counted and the stored events checked after;
 *   3. a daypart burst: many campaigns whose window closes at one instant; how many the cache
 *      answered "serving" past their boundary (goal 0), beside how late the clock's writes came.
 *
 *   npm run bench:sdk [-- --campaigns 1024 --events 100000 --burst 300]
 */
import { parseArgs } from "node:util";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { ServingCache, SpendReporter, staticToken } from "@adbudget/client";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { startSdkSystem } from "@adbudget/testing";
import { percentile } from "./lib.ts";

const { values } = parseArgs({
  options: {
    campaigns: { type: "string", default: "1024" },
    events: { type: "string", default: "100000" },
    burst: { type: "string", default: "300" },
  },
});
const CAMPAIGNS = Number(values.campaigns);
const EVENTS = Number(values.events);
const BURST = Number(values.burst);
/** RecordSpendBatch's batch and concurrency for both the reporter and the direct calls. */
const BATCH = 500;
const IN_FLIGHT = 4;

const sdk = await startSdkSystem("bench");
const log = (msg: string) => console.error(`[bench:sdk] ${msg}`);
try {
  const tokens = staticToken(sdk.adServerToken);
  const create = async (n: number, label: string, schedule?: { start: string; end: string }) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i += 8) {
      const page = await Promise.all(
        Array.from({ length: Math.min(8, n - i) }, (_, k) =>
          sdk.campaigns.createCampaign({
            brandId: sdk.brandId,
            name: `${label} ${i + k}`,
            ...(schedule === undefined
              ? {}
              : { schedule: { timeZone: sdk.zone, windows: [{ daysOfWeek: [1, 2, 3, 4, 5, 6, 7], ...schedule }] } }),
          }),
        ),
      );
      for (const r of page) if (r.campaign !== undefined) ids.push(r.campaign.id);
    }
    return ids;
  };

  // 1. Lookups.
  log(`creating ${CAMPAIGNS} campaigns`);
  const ids = await create(CAMPAIGNS, "Lookup");
  const cache = new ServingCache({ campaignUrl: sdk.campaignUrl, tokens, brandId: sdk.brandId, now: sdk.now });
  await cache.ready;
  const bare = new Map(ids.map((id) => [id, { flipAtMs: Number.POSITIVE_INFINITY, before: true, after: true }]));
  const bareLookup = (id: string) => {
    const e = bare.get(id);
    return e !== undefined && (Date.now() >= e.flipAtMs ? e.after : e.before);
  };
  const measure = (lookup: (id: string) => boolean) => {
    const LOOPS = 5_000_000;
    let served = 0;
    for (let i = 0; i < 200_000; i++) if (lookup(ids[i % ids.length])) served++; // warm-up (JIT)
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < LOOPS; i++) if (lookup(ids[i % ids.length])) served++;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    // Per-lookup latency: samples of 100 lookups each (one clock read per lookup would dwarf it).
    const samples: number[] = [];
    for (let s = 0; s < 20_000; s++) {
      const a = process.hrtime.bigint();
      for (let i = 0; i < 100; i++) if (lookup(ids[(s * 100 + i) % ids.length])) served++;
      samples.push(Number(process.hrtime.bigint() - a) / 100);
    }
    samples.sort((x, y) => x - y);
    return { perSecond: LOOPS / seconds, p50: percentile(samples, 50), p99: percentile(samples, 99), served };
  };
  const ours = measure((id) => cache.isServing(id));
  const floor = measure(bareLookup);
  const wrong = ids.filter((id) => !cache.isServing(id)).length;

  // 2. Spend: the reporter, then RecordSpendBatch directly, each over its own campaigns.
  const [viaReporter, direct] = await create(2, "Spend");
  log(`reporting ${EVENTS} events through the SpendReporter`);
  const reporter = new SpendReporter({
    budgetUrl: sdk.budgetUrl,
    tokens,
    now: sdk.now,
    maxBatch: BATCH,
    maxInFlight: IN_FLIGHT,
  });
  const r0 = performance.now();
  for (let i = 0; i < EVENTS; i++) {
    if (!reporter.report({ eventId: `r-${i}`, brandId: sdk.brandId, campaignId: viaReporter, amountMicros: 1n }))
      throw new Error(`report ${i} was refused`);
    if (i % 5000 === 4999) await new Promise((r) => setImmediate(r)); // an ad server's loop yields between requests
  }
  await reporter.flush();
  const reporterSeconds = (performance.now() - r0) / 1000;
  const rStats = reporter.stats();
  await reporter.close();

  log(`sending ${EVENTS} events with RecordSpendBatch directly`);
  let directErrors = 0;
  let next = 0;
  const d0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (;;) {
        const from = next;
        if (from >= EVENTS) return;
        next = Math.min(EVENTS, from + BATCH);
        const events = Array.from({ length: next - from }, (_, k) => ({
          eventId: `d-${from + k}`,
          brandId: sdk.brandId,
          campaignId: direct,
          amountMicros: 1n,
          occurredAt: { seconds: BigInt(Math.floor(sdk.now() / 1000)), nanos: 0 },
        }));
        const { results } = await sdk.budget.recordSpendBatch({ events }).catch(() => ({ results: [] }));
        directErrors += events.length - results.filter((r) => r.response !== undefined).length;
      }
    }),
  );
  const directSeconds = (performance.now() - d0) / 1000;
  const stored = async (campaignId: string) =>
    (await sdk.budget.getCampaignSpend({ brandId: sdk.brandId, campaignId })).eventCount;
  const [storedReporter, storedDirect] = [await stored(viaReporter), await stored(direct)];

  // 3. The daypart burst: BURST windows closing at one instant at least 40 s ahead.
  const closeAt = Math.ceil((sdk.now() + 40_000) / 60_000) * 60_000;
  const hhmm = (ms: number) =>
    new Intl.DateTimeFormat("en-GB", {
      timeZone: sdk.zone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    }).format(ms);
  const end = hhmm(closeAt) === "00:00" ? "24:00" : hhmm(closeAt);
  const start = hhmm(closeAt - 3_600_000) < end ? hhmm(closeAt - 3_600_000) : "00:00";
  log(`creating ${BURST} campaigns whose window closes at ${new Date(closeAt).toISOString()} (services' clock)`);
  const burst = await create(BURST, "Burst", { start, end });
  // The cache hears of each new campaign through its stream, a moment after CreateCampaign answers.
  for (const deadline = Date.now() + 30_000; burst.some((id) => cache.campaign(id) === undefined);) {
    if (Date.now() > deadline) throw new Error("the cache did not see every burst campaign within 30 s");
    await new Promise((r) => setTimeout(r, 10));
  }
  const burstCampaigns = burst.map((id) => cache.campaign(id));
  const aimed = burstCampaigns.filter(
    (c) => c?.nextChangeTime !== undefined && timestampMs(c.nextChangeTime) === closeAt,
  ).length;
  while (sdk.now() < closeAt - 100) await new Promise((r) => setTimeout(r, Math.min(500, closeAt - 100 - sdk.now())));
  const servedPast = new Set<string>();
  const writeLateMs = new Map<string, number>();
  let readings = 0;
  while (writeLateMs.size < BURST && sdk.now() < closeAt + 90_000) {
    const from = sdk.now();
    for (const id of burst) {
      if (from >= closeAt && cache.isServing(id)) servedPast.add(id);
      if (!writeLateMs.has(id) && cache.campaign(id)?.pauseReasons.includes(PauseReason.OUTSIDE_DAYPART))
        writeLateMs.set(id, sdk.now() - closeAt);
    }
    if (from >= closeAt) readings++;
    await new Promise((r) => setImmediate(r)); // the stream's messages come between readings
  }
  const late = [...writeLateMs.values()].sort((a, b) => a - b);
  await cache.close();

  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  console.log(`\n## bench:sdk (${new Date().toISOString()}, ${CAMPAIGNS} campaigns in the cache)\n`);
  console.log("| lookups | per second | ns p50 | ns p99 | wrong answers |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(
    `| ServingCache.isServing | ${fmt(ours.perSecond)} | ${ours.p50.toFixed(0)} | ${ours.p99.toFixed(0)} | ${wrong} |`,
  );
  console.log(
    `| ceiling: Map.get + clock read | ${fmt(floor.perSecond)} | ${floor.p50.toFixed(0)} | ${floor.p99.toFixed(0)} | - |`,
  );
  console.log("\n| spend path | events | events/s | errors | stored after |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(
    `| SpendReporter (report -> acknowledged) | ${EVENTS} | ${fmt(EVENTS / reporterSeconds)} | ${rStats.rejected} rejected, ${rStats.retries} retried | ${storedReporter} |`,
  );
  console.log(
    `| ceiling: RecordSpendBatch directly (${BATCH} x ${IN_FLIGHT}) | ${EVENTS} | ${fmt(EVENTS / directSeconds)} | ${directErrors} | ${storedDirect} |`,
  );
  console.log(
    `\n| daypart burst | campaigns | next_change_time at the instant | served past the instant by the cache | readings after it | clock's write p50 / p99 / max late (ms) | writes seen |`,
  );
  console.log("| --- | ---: | ---: | ---: | ---: | --- | ---: |");
  console.log(
    `| one window closing | ${BURST} | ${aimed} | ${servedPast.size} | ${readings} | ${percentile(late, 50)} / ${percentile(late, 99)} / ${late.at(-1)} | ${late.length} |`,
  );
  const ok =
    wrong === 0 &&
    storedReporter === BigInt(EVENTS) &&
    storedDirect === BigInt(EVENTS) &&
    servedPast.size === 0 &&
    aimed === BURST;
  if (!ok) {
    console.error(
      "[bench:sdk] a check failed: wrong answers, missing stored events, or a campaign served past its boundary",
    );
    process.exitCode = 1;
  }
} finally {
  await sdk.stop();
}
