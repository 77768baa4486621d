import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "vitest";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Client as TemporalClient, Connection } from "@temporalio/client";
import { formatDate, localDate, nextMonthStart, startOfDay, weekdayOf, type CalendarDate } from "@adbudget/time";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import {
  PauseReason,
  type Campaign,
  type CampaignStateChange,
} from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import {
  CampaignService,
  WatchEventType,
  type WatchCampaignsResponse,
} from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { launchSystemProcesses, type SystemProcesses } from "@adbudget/testing";

/**
 * A brand's whole budget day, through the public gRPC API only, against the built services and
 * clocks worker running as processes (PostgreSQL, NATS JetStream, Temporal: all real).
 *
 * The reset needs a real local midnight. Rather than wait for one (up to 30 minutes away in the
 * best-placed zone), every process runs with the same CLOCK_OFFSET_MS, chosen so that their
 * shared clock reaches the last midnight of a month in Asia/Kathmandu (UTC+05:45) LEAD_MS after
 * they start: the day and the month reset together, on real Temporal timers.
 */
const ZONE = "Asia/Kathmandu";
const LEAD_MS = 75_000;
const UNIT = 1_000_000n;

let system: SystemProcesses;
let offsetMs: number;
/** The instant (real clock) at which the system's clock reaches the brand's midnight. */
let midnightReal: number;
let midnightSys: number;
let newDay: CalendarDate;

const sysNow = () => Date.now() + offsetMs;
const dateOf = (d: { year: number; month: number; day: number } | undefined) => (d ? formatDate(d) : "none");

beforeAll(async () => {
  system = await launchSystemProcesses({
    kind: "e2e",
    keepStdout: true,
    env: () => {
      // The offset is fixed just before the processes start, so the lead is spent on starting
      // them and on the steps before midnight.
      newDay = nextMonthStart(localDate(Date.now(), ZONE));
      midnightSys = startOfDay(newDay, ZONE);
      midnightReal = Date.now() + LEAD_MS;
      offsetMs = midnightSys - midnightReal;
      return { CLOCK_OFFSET_MS: String(offsetMs), TRACING: "stdout", RECONCILE_INTERVAL_MS: "0" };
    },
  });
}, 180_000);

afterAll(async () => {
  await system?.stop();
}, 60_000);

async function until<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${system.tail()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What an ad server sees: WatchCampaigns for one brand, every message kept with its arrival time. */
function watch(campaigns: Client<typeof CampaignService>, brandId: string) {
  const seen: { at: number; res: WatchCampaignsResponse }[] = [];
  const ac = new AbortController();
  const done = (async () => {
    try {
      for await (const res of campaigns.watchCampaigns({ brandId }, { signal: ac.signal }))
        seen.push({ at: Date.now(), res });
    } catch (err) {
      if (!ac.signal.aborted) throw err;
    }
  })();
  const latest = (id: string): { at: number; campaign: Campaign; change?: CampaignStateChange } | undefined => {
    for (let i = seen.length - 1; i >= 0; i--) {
      const c = seen[i].res.campaign;
      if (c?.id === id) return { at: seen[i].at, campaign: c, change: seen[i].res.change };
    }
    return undefined;
  };
  return { seen, latest, stop: async () => (ac.abort(), await done) };
}

const reasons = (c: Campaign | undefined) => [...(c?.pauseReasons ?? [])].sort();

test("brand creation -> spend -> budget exhausted, campaigns stop -> local midnight resets day and month, campaigns serve again", async () => {
  const t = (url: string) => createGrpcTransport({ baseUrl: url, interceptors: system.auth.admin });
  const brands = createClient(BrandService, t(system.urls.brand));
  const budget = createClient(BudgetService, t(system.urls.budget));
  const campaigns = createClient(CampaignService, t(system.urls.campaign));

  // An account manager sets up a brand: zone, budget, three campaigns.
  const { brand } = await brands.createBrand({
    name: `e2e Kathmandu ${randomUUID()}`,
    timeZone: ZONE,
    currencyCode: "NPR",
  });
  const brandId = brand!.id;
  // The account manager wants to hear at 80% of each limit.
  await budget.setBudget({
    brandId,
    dailyLimitMicros: 10n * UNIT,
    monthlyLimitMicros: 15n * UNIT,
    alerts: { percents: [80] },
  });
  const always = (await campaigns.createCampaign({ brandId, name: "always on" })).campaign!;
  // Serves only from midnight to 06:00 on the weekday of the new month's first day.
  const dayparted = (
    await campaigns.createCampaign({
      brandId,
      name: "first-of-month mornings",
      schedule: { windows: [{ daysOfWeek: [weekdayOf(newDay)], start: "00:00", end: "06:00" }] },
    })
  ).campaign!;
  const held = (await campaigns.createCampaign({ brandId, name: "held by the user", enabled: false })).campaign!;
  // A campaign with its own cap of 1 a day: it stops alone when it reaches it.
  const capped = (await campaigns.createCampaign({ brandId, name: "capped at 1 a day", dailyLimitMicros: UNIT }))
    .campaign!;
  expect(always.serving).toBe(true);
  expect(reasons(dayparted)).toEqual([PauseReason.OUTSIDE_DAYPART]);
  expect(reasons(held)).toEqual([PauseReason.PAUSED_BY_USER]);

  const w = watch(campaigns, brandId);
  await until(
    "the watch snapshot",
    () => (w.seen.some((s) => s.res.type === WatchEventType.SNAPSHOT_COMPLETE) ? true : undefined),
    10_000,
  );

  // The clocks start from the services' events: the reset and daypart workflows are running.
  const connection = await Connection.connect({ address: system.temporalAddress });
  const temporal = new TemporalClient({ connection });
  try {
    for (const id of [`budget-reset/${brandId}`, `campaign-daypart/${dayparted.id}`]) {
      await until(
        `${id} running`,
        async () => {
          try {
            const d = await temporal.workflow.getHandle(id).describe();
            return d.status.name === "RUNNING" ? true : undefined;
          } catch {
            return undefined;
          }
        },
        30_000,
      );
    }
  } finally {
    await connection.close();
  }

  // Ad servers report spend: 1 on the capped campaign reaches its own cap (it stops, its siblings
  // serve), 7 more reach 80% of the day (the alert arrives while the campaigns still serve), 2
  // more the daily limit, 5 more the monthly one (recorded although the campaign is already
  // paused: spend is a fact). A retry is counted once.
  const alerts: { percent: number; kind: PeriodKind; servingThen: boolean | undefined }[] = [];
  const alertsAbort = new AbortController();
  let alertsUp = false;
  const alertWatch = (async () => {
    try {
      for await (const m of budget.watchBudgetAlerts({ brandId }, { signal: alertsAbort.signal })) {
        if (m.subscribed) alertsUp = true;
        else
          alerts.push({
            percent: m.alert!.percent,
            kind: m.alert!.period!.kind,
            servingThen: w.latest(always.id)?.campaign.serving,
          });
      }
    } catch {
      // ended below
    }
  })();
  await until("the alert stream", () => (alertsUp ? true : undefined), 10_000);
  await budget.recordSpend({
    eventId: `imp-${randomUUID()}`,
    brandId,
    campaignId: capped.id,
    amountMicros: UNIT,
    occurredAt: timestampFromMs(sysNow() - 90_000),
  });
  const capStop = await until(
    "the capped campaign stopped by its cap",
    () => {
      const c = w.latest(capped.id);
      return c !== undefined && reasons(c.campaign).includes(PauseReason.CAMPAIGN_BUDGET_EXHAUSTED) ? c : undefined;
    },
    15_000,
  );
  expect(reasons(capStop.campaign)).toEqual([PauseReason.CAMPAIGN_BUDGET_EXHAUSTED]);
  expect(capStop.change?.cause).toBe("campaign_budget.exhausted");
  expect(w.latest(always.id)?.campaign.serving).toBe(true);
  const e1 = {
    eventId: `imp-${randomUUID()}`,
    brandId,
    campaignId: always.id,
    amountMicros: 7n * UNIT,
    occurredAt: timestampFromMs(sysNow() - 60_000),
  };
  expect((await budget.recordSpend(e1)).duplicate).toBe(false);
  const heard = await until(
    "the 80% alert of the day",
    () => alerts.find((a) => a.kind === PeriodKind.DAY && a.percent === 80),
    10_000,
  );
  expect(heard.servingThen).toBe(true);
  const batch = await budget.recordSpendBatch({
    events: [
      {
        eventId: `imp-${randomUUID()}`,
        brandId,
        campaignId: always.id,
        amountMicros: 2n * UNIT,
        occurredAt: timestampFromMs(sysNow() - 30_000),
      },
      {
        eventId: `imp-${randomUUID()}`,
        brandId,
        campaignId: always.id,
        amountMicros: 5n * UNIT,
        occurredAt: timestampFromMs(sysNow() - 10_000),
      },
    ],
  });
  expect(batch.results.map((r) => r.error === undefined && r.response?.duplicate === false)).toEqual([true, true]);
  const retry = await budget.recordSpend(e1);
  expect(retry.duplicate).toBe(true);
  const before = (await budget.getBudgetStatus({ brandId })).status!;
  expect(dateOf(before.day!.periodStart)).not.toBe(formatDate(newDay));
  expect(before.day).toMatchObject({ spentMicros: 15n * UNIT, exhausted: true });
  expect(before.month).toMatchObject({ spentMicros: 15n * UNIT, exhausted: true });

  // The campaigns stop: ad servers see it on the watch stream.
  const stopped = await until(
    "the campaigns paused by the budget",
    () => {
      const a = w.latest(always.id);
      const d = w.latest(dayparted.id);
      return reasons(a?.campaign).length === 2 && reasons(d?.campaign).length === 3 ? { a: a!, d: d! } : undefined;
    },
    15_000,
  );
  expect(stopped.a.campaign.serving).toBe(false);
  // The month's 80% came with the batch; each alert once.
  await until(
    "the 80% alert of the month",
    () => alerts.find((a) => a.kind === PeriodKind.MONTH && a.percent === 80),
    10_000,
  );
  alertsAbort.abort();
  await alertWatch;
  expect(alerts.map((a) => [a.kind, a.percent])).toEqual([
    [PeriodKind.DAY, 80],
    [PeriodKind.MONTH, 80],
  ]);
  expect(reasons(stopped.a.campaign)).toEqual(
    [PauseReason.DAILY_BUDGET_EXHAUSTED, PauseReason.MONTHLY_BUDGET_EXHAUSTED].sort(),
  );
  expect(reasons(stopped.d.campaign)).toEqual(
    [PauseReason.OUTSIDE_DAYPART, PauseReason.DAILY_BUDGET_EXHAUSTED, PauseReason.MONTHLY_BUDGET_EXHAUSTED].sort(),
  );
  // Everything above must have happened before the brand's midnight, or this run proves nothing.
  expect(sysNow(), `the steps before midnight took too long (lead ${LEAD_MS} ms)\n${system.tail()}`).toBeLessThan(
    midnightSys - 1000,
  );

  // Local midnight of the 1st in Kathmandu: the reset workflow opens the new day and month,
  // the daypart workflow opens the window; both campaigns serve again, seen on the stream.
  // The capped campaign serves again too: its cap was yesterday's.
  const resumed = await until(
    "the campaigns serving after midnight",
    () => {
      const a = w.latest(always.id);
      const d = w.latest(dayparted.id);
      const c = w.latest(capped.id);
      return a?.campaign.serving && d?.campaign.serving && c?.campaign.serving ? { a, d } : undefined;
    },
    LEAD_MS + 45_000,
  );
  expect(resumed.a.at).toBeGreaterThanOrEqual(midnightReal - 100);
  expect(resumed.d.at).toBeGreaterThanOrEqual(midnightReal - 100);
  // Timers fire on time: both resumed within seconds of midnight.
  expect(Math.max(resumed.a.at, resumed.d.at) - midnightReal).toBeLessThan(20_000);
  await w.stop();

  // The held campaign stays held; nothing was deleted, the old periods keep their totals.
  expect(reasons((await campaigns.getCampaign({ id: held.id })).campaign)).toEqual([PauseReason.PAUSED_BY_USER]);
  const after = (await budget.getBudgetStatus({ brandId })).status!;
  expect(dateOf(after.day!.periodStart)).toBe(formatDate(newDay));
  expect(dateOf(after.month!.periodStart)).toBe(formatDate(newDay));
  expect(after.day).toMatchObject({ spentMicros: 0n, exhausted: false, remainingMicros: 10n * UNIT });
  expect(after.month).toMatchObject({ spentMicros: 0n, exhausted: false, remainingMicros: 15n * UNIT });
  const months = (await budget.listBudgetPeriods({ brandId, kind: PeriodKind.MONTH })).periods;
  const oldMonth = months.find((p) => dateOf(p.period?.start) === dateOf(before.month!.periodStart));
  expect(oldMonth).toMatchObject({ spentMicros: 15n * UNIT, exhausted: true, overspendMicros: 0n });

  // The audit trail says why: budget exhaustion, then the resets (and the daypart window).
  const changes = (await campaigns.listCampaignStateChanges({ campaignId: always.id })).changes;
  const causes = changes.map((c) => c.cause);
  expect(causes).toContain("budget.exhausted");
  expect(causes.some((c) => c.startsWith("reset."))).toBe(true);
  expect(changes.at(-1)).toMatchObject({ toServing: true });
  const dayChanges = (await campaigns.listCampaignStateChanges({ campaignId: dayparted.id })).changes.map(
    (c) => c.cause,
  );
  expect(dayChanges).toContain("daypart");

  // New spend counts toward the new day.
  await budget.recordSpend({
    eventId: `imp-${randomUUID()}`,
    brandId,
    campaignId: always.id,
    amountMicros: UNIT,
    occurredAt: timestampFromMs(sysNow()),
  });
  expect((await budget.getBudgetStatus({ brandId })).status!.day).toMatchObject({
    spentMicros: UNIT,
    exhausted: false,
  });

  // Metrics, as Prometheus scrapes them.
  const budgetMetrics = await (await fetch(system.metricsUrl("budget"))).text();
  expect(budgetMetrics).toMatch(/^adbudget_spend_events_total\{[^}]*result="recorded"[^}]*\} 5$/m);
  expect(budgetMetrics).toMatch(/^adbudget_spend_events_total\{[^}]*result="duplicate"[^}]*\} 1$/m);
  // The day's and the month's exhaustion events, published from the outbox, none waiting.
  expect(Number(/^adbudget_outbox_published_total\{[^}]*\} (\d+)$/m.exec(budgetMetrics)?.[1])).toBeGreaterThanOrEqual(
    2,
  );
  expect(budgetMetrics).toMatch(/adbudget_outbox_pending\{[^}]*\} 0$/m);
  const campaignMetrics = await (await fetch(system.metricsUrl("campaign"))).text();
  expect(campaignMetrics).toMatch(/^adbudget_campaigns_serving(\{[^}]*\})? 3$/m);
  expect(Number(/^adbudget_outbox_published_total\{[^}]*\} (\d+)$/m.exec(campaignMetrics)?.[1])).toBeGreaterThanOrEqual(
    1,
  );
  const brandMetrics = await (await fetch(system.metricsUrl("brand"))).text();
  expect(Number(/^adbudget_outbox_published_total\{[^}]*\} (\d+)$/m.exec(brandMetrics)?.[1])).toBeGreaterThanOrEqual(1);
  expect(brandMetrics).toMatch(
    /^adbudget_rpc_requests_total\{[^}]*rpc="adbudget.brand.v1.BrandService\/CreateBrand"[^}]*code="OK"[^}]*\} 1$/m,
  );

  // One trace from the RecordSpendBatch that exhausted the budget to the campaign service
  // consuming budget.exhausted (where the pause commits), across processes: spans are JSON
  // lines on each process's stdout, flushed on a graceful stop.
  const clocksMetrics = await (await fetch(system.metricsUrl("clocks"))).text();
  expect(clocksMetrics).toMatch(/temporal_activity_execution_latency\w*_count\{[^}]*activity_type="openBudgetPeriod"/);
  expect(clocksMetrics).toMatch(/temporal_worker_task_slots_available\{/);

  await Promise.all(system.processes.map((p) => p.stop()));
  const spans = (name: string) =>
    system.processes
      .find((p) => p.name === name)!
      .records()
      .filter((r) => r.msg === "span");
  const recordSpans = spans("budget").filter((s) => s.name === "adbudget.budget.v1.BudgetService/RecordSpendBatch");
  const consumeSpans = spans("campaign").filter(
    (s) => String(s.name).startsWith("consume ") && String(s.name).includes(".budget.exhausted."),
  );
  expect(recordSpans.length).toBeGreaterThan(0);
  expect(consumeSpans.length).toBeGreaterThan(0);
  const traceIds = new Set(recordSpans.map((s) => s.traceId));
  expect(consumeSpans.some((s) => traceIds.has(s.traceId))).toBe(true);

  // Temporal: the midnight's openBudgetPeriod activity is a span of the clocks worker, the
  // campaign service's OpenBudgetPeriods (the day with its month) continues its trace, and the activity links to its
  // cause: the CreateBrand call whose brand event started the reset workflow.
  const activitySpans = spans("clocks").filter((s) => s.name === "activity openBudgetPeriod");
  const openSpans = spans("campaign").filter(
    (s) => s.name === "adbudget.campaign.v1.CampaignClockService/OpenBudgetPeriods",
  );
  expect(activitySpans.length).toBeGreaterThan(0);
  const activityTraces = new Set(activitySpans.map((s) => s.traceId));
  expect(openSpans.some((s) => activityTraces.has(s.traceId))).toBe(true);
  const createBrand = spans("brand").find((s) => s.name === "adbudget.brand.v1.BrandService/CreateBrand");
  expect(createBrand).toBeDefined();
  const linked = activitySpans.filter((s) =>
    (s.links as { traceId: string }[] | undefined)?.some((l) => l.traceId === createBrand!.traceId),
  );
  expect(linked.length, JSON.stringify({ activitySpans, createBrand }, null, 1)).toBeGreaterThan(0);
}, 300_000);
