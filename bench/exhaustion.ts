/**
 * Latency from the RecordSpend that exhausts a brand's daily budget to the WatchCampaigns
 * event that stops its campaign, over many brands, through the real services (child
 * processes, fresh databases, NATS JetStream): budget commit -> outbox -> relay -> JetStream ->
 * campaign consumer -> commit -> outbox -> relay -> NATS -> watch hub -> gRPC stream.
 *
 *   npm run build && node bench/exhaustion.ts [--brands 200] [--concurrency 8]
 */
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { NATS_URL } from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { CampaignService, WatchEventType } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { fromBinary } from "@bufbuild/protobuf";
import { connect } from "@nats-io/transport-node";
import { BudgetPeriodEventSchema } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { CampaignStateChangedEventSchema } from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";
import { cpuBetween, cpuSnapshot, percentile, pidOf, startBenchSystem } from "./lib.ts";

const { values } = parseArgs({
  options: { brands: { type: "string", default: "200" }, concurrency: { type: "string", default: "8" } },
});
const BRANDS = Number(values.brands);
const CONCURRENCY = Number(values.concurrency);
const WARMUP = 16;

const system = await startBenchSystem();
const { auth } = system;
const tag = system.plan.tag;

try {
  const t = (url: string) => createGrpcTransport({ baseUrl: url, interceptors: auth.admin });
  const brands = createClient(BrandService, t(system.urls.brand));
  const budget = createClient(BudgetService, t(system.urls.budget));
  const campaigns = createClient(CampaignService, t(system.urls.campaign));

  console.error(`creating ${BRANDS} brands with a campaign each`);
  const setups: { brandId: string; campaignId: string }[] = [];
  // WARMUP more brands, exhausted before the measured ones: the crossing path (period flag,
  // outbox, relay, the campaign consumer's pause, the watch fan-out) runs compiled, as in a
  // service that has been up a while, instead of its first runs landing in the percentiles.
  for (let i = 0; i < BRANDS + WARMUP; i++) {
    const { brand } = await brands.createBrand({
      name: `${tag} ${i}`,
      timeZone: i % 2 ? "America/New_York" : "Asia/Kathmandu",
    });
    // ACCELERATED: this measures the wall (spend to the limit, then the pause); a paced budget's
    // throttle events would be counted as the campaign's first change.
    await budget.setBudget({ brandId: brand!.id, dailyLimitMicros: 1_000_000n, pacingMode: PacingMode.ACCELERATED });
    const { campaign } = await campaigns.createCampaign({ brandId: brand!.id, name: `c${i}` });
    // Warm the budget service's campaign directory, below the limit.
    await budget.recordSpend({
      eventId: `${tag}-warm-${i}`,
      brandId: brand!.id,
      campaignId: campaign!.id,
      amountMicros: 1n,
    });
    setups.push({ brandId: brand!.id, campaignId: campaign!.id });
  }

  const warm = setups.splice(BRANDS);
  const sentAt = new Map<string, number>();
  const hopFrom = new Map<string, number>();
  let errors = 0;
  const latencies: number[] = [];
  // Where the time goes, hop by hop: the answer to RecordSpend, the budget event on NATS (budget
  // outbox relay), the campaign event on NATS (campaign consumer, its commit and its relay).
  const brandOf = new Map(setups.map((s) => [s.brandId, s.campaignId]));
  const hops = { answered: [] as number[], budgetEvent: [] as number[], campaignEvent: [] as number[] };
  const nc = await connect({ servers: NATS_URL });
  const hop = (list: number[], campaignId: string | undefined) => {
    const t0 = campaignId === undefined ? undefined : hopFrom.get(campaignId);
    if (t0 !== undefined) list.push(performance.now() - t0);
  };
  nc.subscribe(`${tag}.budget.exhausted.>`, {
    callback: (_e, m) => hop(hops.budgetEvent, brandOf.get(fromBinary(BudgetPeriodEventSchema, m.data).brandId)),
  });
  nc.subscribe(`${tag}.campaign.state.>`, {
    callback: (_e, m) => hop(hops.campaignEvent, fromBinary(CampaignStateChangedEventSchema, m.data).campaign?.id),
  });
  const abort = new AbortController();
  let ready!: () => void;
  const snapshotDone = new Promise<void>((r) => (ready = r));
  let allSeen!: () => void;
  const seenAll = new Promise<void>((r) => (allSeen = r));
  const watching = (async () => {
    try {
      for await (const m of campaigns.watchCampaigns({}, { signal: abort.signal })) {
        if (m.type === WatchEventType.SNAPSHOT_COMPLETE) ready();
        if (m.type !== WatchEventType.CHANGED || !m.campaign?.pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED))
          continue;
        const t0 = sentAt.get(m.campaign.id);
        if (t0 === undefined) continue;
        sentAt.delete(m.campaign.id);
        latencies.push(performance.now() - t0);
        if (latencies.length === BRANDS) allSeen();
      }
    } catch {
      // aborted at the end
    }
  })();
  await snapshotDone;

  console.error(`warming up: exhausting ${WARMUP} brands first (not measured)`);
  for (const [i, s] of warm.entries()) {
    await budget
      .recordSpend({ eventId: `${tag}-w-${i}`, brandId: s.brandId, campaignId: s.campaignId, amountMicros: 2_000_000n })
      .catch(() => errors++);
  }
  // The brands are spending (as a brand about to run out is): each one's cached entries are fresh.
  let touched = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = touched++; i < BRANDS; i = touched++) {
        const s = setups[i];
        await budget
          .recordSpend({ eventId: `${tag}-t-${i}`, brandId: s.brandId, campaignId: s.campaignId, amountMicros: 1n })
          .catch(() => errors++);
      }
    }),
  );
  await new Promise((r) => setTimeout(r, 1000));

  console.error(`exhausting ${BRANDS} brands, ${CONCURRENCY} at a time`);
  const names = new Map([
    [pidOf(system, "budget"), "budget"],
    [pidOf(system, "campaign"), "campaign"],
    [pidOf(system, "brand"), "brand"],
    [process.pid, "bench"],
  ]);
  const cpuBefore = cpuSnapshot([...names.keys()]);
  const startedAt = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < BRANDS; i = next++) {
        const s = setups[i];
        sentAt.set(s.campaignId, performance.now());
        hopFrom.set(s.campaignId, performance.now());
        try {
          await budget.recordSpend({
            eventId: `${tag}-x-${i}`,
            brandId: s.brandId,
            campaignId: s.campaignId,
            amountMicros: 2_000_000n,
          });
          hop(hops.answered, s.campaignId);
        } catch (err) {
          errors++;
          console.error(`ERROR RecordSpend: ${String(err)}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }),
  );
  await Promise.race([seenAll, new Promise((r) => setTimeout(r, 60_000))]);
  const cpu = cpuBetween(cpuBefore, cpuSnapshot([...names.keys()]), names);
  const elapsed = (performance.now() - startedAt) / 1000;
  abort.abort();
  await watching;

  await nc.close();
  const sorted = latencies.sort((a, b) => a - b);
  console.log(`\n| from the exhausting RecordSpend to | n | p50 ms | p99 ms |`);
  console.log(`| --- | ---: | ---: | ---: |`);
  for (const [name, list] of Object.entries(hops)) {
    const l = list.sort((a, b) => a - b);
    console.log(`| ${name} | ${l.length} | ${percentile(l, 50).toFixed(1)} | ${percentile(l, 99).toFixed(1)} |`);
  }
  console.log(`\n| brands exhausted | seen on WatchCampaigns | p50 ms | p99 ms | max ms |`);
  console.log(`| ---: | ---: | ---: | ---: | ---: |`);
  console.log(
    `| ${BRANDS} | ${sorted.length} | ${percentile(sorted, 50).toFixed(1)} | ${percentile(sorted, 99).toFixed(1)} | ${sorted.at(-1)!.toFixed(1)} |`,
  );
  console.log(
    `\nCPU while the ${BRANDS} exhaustions ran (${elapsed.toFixed(1)} s, ${(BRANDS / elapsed).toFixed(0)} exhaustions/s; "rest" is NATS and everything else):`,
  );
  console.log(`| per exhaustion, CPU ms | budget | campaign | brand | postgres | bench client | rest | machine idle |`);
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`);
  const per = (k: string) => ((cpu[k] * 1000) / BRANDS).toFixed(2);
  console.log(
    `| | ${per("budget")} | ${per("campaign")} | ${per("brand")} | ${per("postgres")} | ${per("bench")} | ${per("client")} | ${((cpu.idle / (elapsed * 2)) * 100).toFixed(0)}% |`,
  );
  console.log(`\nerrors: ${errors}${sorted.length < BRANDS ? `; ${BRANDS - sorted.length} pauses never seen` : ""}`);
  if (errors > 0 || sorted.length < BRANDS) process.exitCode = 1;
} finally {
  await system.stop();
}
