import { randomBytes } from "node:crypto";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { createActivities, reconcileBrand } from "@adbudget/workflows";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import type { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { formatDate, nextDayStart, periodsOf } from "@adbudget/time";
import type { ModelOp, ModelSchedule } from "./model-schedule.js";
import { expectedServing, localDateOf, type ModelReason, type ModelSpend } from "./serving-model.js";
import { startSystemInProcess, type SystemHarness } from "./launcher-in-process.js";

/**
 * Runs a model schedule (model-schedule.ts) against real services and compares every campaign
 * with the reference model (serving-model.ts). The system: a brand service, two budget services
 * and two campaign services on their databases and NATS streams (so each durable consumer has
 * two replicas taking messages at once), all on one clock the run moves (ModelClock). The test
 * itself plays the clocks worker: it opens periods and sets daypart states through the same
 * activities and RPCs the worker uses, late and out of order as the schedule says.
 */

/** The services' clock: real time plus an offset the run jumps, frozen while the run checks. */
export class ModelClock {
  private offset = 0;
  private frozenAt: number | undefined;

  readonly now = (): number => this.frozenAt ?? Date.now() + this.offset;

  set(instant: number): void {
    this.frozenAt = undefined;
    this.offset = instant - Date.now();
  }

  advance(ms: number): void {
    if (this.frozenAt !== undefined) this.frozenAt += ms;
    else this.offset += ms;
  }

  freeze(): void {
    this.frozenAt = this.now();
  }
}

export interface ModelSystem {
  h: SystemHarness;
  clock: ModelClock;
  budgets: Client<typeof BudgetService>[];
  campaigns: Client<typeof CampaignService>[];
  campaignClocks: Client<typeof CampaignClockService>[];
  close(): Promise<void>;
}

/** The system a model run needs (reused across runs: each run makes its own brands). */
export async function startModelSystem(): Promise<ModelSystem> {
  const clock = new ModelClock();
  const h = await startSystemInProcess({ now: clock.now });
  const budget2 = await h.startBudgetReplica();
  const campaign2 = await h.startCampaignReplica();
  return {
    h,
    clock,
    budgets: [h.budget, budget2],
    campaigns: [h.campaigns, campaign2.campaigns],
    campaignClocks: [h.campaignClock, campaign2.campaignClock],
    close: () => h.close(),
  };
}

/** A campaign as the model knows it: each input's last write. */
interface ModelCampaignState {
  id: string;
  brand: number;
  enabled: boolean;
  cap: bigint | null;
  scheduled: boolean;
  /** The schedule version the daypart clock names (the campaign's: no call is outdated). */
  scheduleVersion: bigint;
  /** The daypart clock's call with the latest as-of (the one the service keeps). */
  daypart: { asOf: number; inWindow: boolean };
}

/** What a run did and what it found. */
export interface ModelOutcome {
  /** Every campaign (and brand period) whose state differs from the model's, described. */
  divergences: string[];
  campaigns: number;
  /** Campaigns that ended paused, by their reasons (what the run exercised). */
  paused: Record<string, number>;
  spends: number;
  ops: number;
}

/**
 * One window of the whole week, in the brand's zone; for the brand whose zone moves, in UTC: a
 * zone change recomputes schedules of the brand's zone at the instant the campaign service takes
 * it (an as-of this run cannot know), so the model could not tell which daypart state is newest.
 */
/** 2027-01-01T00:00Z: runs start within the year after it, across every DST change of it. */
const MODEL_EPOCH = Date.UTC(2027, 0, 1);

const allWeek = (timeZone: string) => ({
  timeZone,
  windows: [{ daysOfWeek: [1, 2, 3, 4, 5, 6, 7], start: "00:00", end: "24:00" }],
});

/**
 * The instant a run starts: `beforeMs` before the first local midnight (or 1st of a month) of its
 * zone after `daysAfter` days past a fixed epoch. Not from the real clock: a seed replays the
 * same instants, and the services run on the run's clock (real time is only what elapses).
 */
function startInstant(s: ModelSchedule["start"]): number {
  let boundary = nextDayStart(MODEL_EPOCH + s.daysAfter * 86_400_000, s.zone);
  for (let i = 0; s.firstOfMonth && !boundary.newMonth && i < 40; i++) boundary = nextDayStart(boundary.at, s.zone);
  return boundary.at - s.beforeMs;
}

/** Runs one schedule; resolves with the divergences (none: every campaign is as the model says). */
export async function runModelSchedule(sys: ModelSystem, schedule: ModelSchedule): Promise<ModelOutcome> {
  const { h, clock } = sys;
  const tag = randomBytes(4).toString("hex");
  const problems: string[] = [];
  clock.set(startInstant(schedule.start));
  const acts = sys.campaignClocks.map((campaignClock, i) =>
    createActivities({
      brands: h.brands,
      campaigns: sys.campaigns[i],
      campaignClock,
      budgetClock: h.budgetClock,
      now: clock.now,
    }),
  );

  // The world as the model knows it: each input's last write.
  const brands = await Promise.all(
    schedule.brands.map(async (b, i) => {
      const { brand } = await h.brands.createBrand({ name: `model-${tag}-${i}`, timeZone: b.zone });
      await h.budget.setBudget({
        brandId: brand!.id,
        dailyLimitMicros: b.daily ?? undefined,
        monthlyLimitMicros: b.monthly ?? undefined,
        updateMask: { paths: ["daily_limit_micros", "monthly_limit_micros"] },
      });
      return { id: brand!.id, daily: b.daily, monthly: b.monthly };
    }),
  );
  const campaigns: ModelCampaignState[] = [];
  for (const [i, c] of schedule.campaigns.entries()) {
    const { campaign } = await h.campaigns.createCampaign({
      brandId: brands[c.brand].id,
      name: `model-${tag}-c${i}`,
      dailyLimitMicros: c.cap ?? undefined,
      schedule: c.scheduled ? allWeek(schedule.brands[c.brand].mover ? "UTC" : "") : undefined,
    });
    campaigns.push({
      id: campaign!.id,
      brand: c.brand,
      enabled: true,
      cap: c.cap,
      scheduled: c.scheduled,
      scheduleVersion: campaign!.scheduleVersion,
      daypart: { asOf: 0, inWindow: true },
    });
  }
  const spends: (ModelSpend & { brand: number })[] = [];
  let spendN = 0;
  // The daypart clock computes its state for now; each call's as-of is later than the one before.
  let lastAsOf = 0;

  /** The day each brand's reset last opened (with the zone it was in). */
  const opened = new Map<number, string>();
  /** The reset clock of a brand, now: its current day (and month) opened, as the worker's activities do. */
  const reset = async (brand: number, replica: number) => {
    const { brand: b } = await h.brands.getBrand({ id: brands[brand].id });
    const p = periodsOf(clock.now(), b!.timeZone);
    const a = acts[replica % acts.length];
    await a.openBudgetPeriod({ brandId: b!.id, kind: "day", start: formatDate(p.day), sourceId: `model:${tag}` });
    await a.openBudgetPeriod({ brandId: b!.id, kind: "month", start: formatDate(p.month), sourceId: `model:${tag}` });
    opened.set(brand, `${b!.timeZone} ${formatDate(p.day)}`);
  };
  for (const i of brands.keys()) await reset(i, 0);

  const streams = { budget: h.budgetStream, brand: h.brandStream, campaign: h.campaignStream };
  const exec = async (op: ModelOp): Promise<void> => {
    switch (op.t) {
      case "spend": {
        const c = campaigns[op.campaign];
        const eventId = `model-${tag}-${++spendN}`;
        const occurredAtMs = clock.now() + op.offsetMs;
        await sys.budgets[op.replica % sys.budgets.length].recordSpend({
          eventId,
          brandId: brands[c.brand].id,
          campaignId: c.id,
          amountMicros: op.amount,
          occurredAt: timestampFromMs(occurredAtMs),
        });
        spends.push({ brand: c.brand, campaignId: c.id, amount: op.amount, occurredAtMs });
        return;
      }
      case "limits": {
        const b = brands[op.brand];
        const paths = [
          ...("daily" in op ? ["daily_limit_micros"] : []),
          ...("monthly" in op ? ["monthly_limit_micros"] : []),
        ];
        if (paths.length === 0) return;
        await h.budget.setBudget({
          brandId: b.id,
          dailyLimitMicros: op.daily ?? undefined,
          monthlyLimitMicros: op.monthly ?? undefined,
          updateMask: { paths },
        });
        if (op.daily !== undefined) b.daily = op.daily;
        if (op.monthly !== undefined) b.monthly = op.monthly;
        return;
      }
      case "cap": {
        const c = campaigns[op.campaign];
        await sys.campaigns[0].updateCampaign({
          campaign: { id: c.id, dailyLimitMicros: op.cap ?? undefined },
          updateMask: { paths: ["daily_limit_micros"] },
        });
        c.cap = op.cap;
        return;
      }
      case "enable": {
        const c = campaigns[op.campaign];
        await (op.enabled
          ? sys.campaigns[1].resumeCampaign({ id: c.id })
          : sys.campaigns[1].pauseCampaign({ id: c.id }));
        c.enabled = op.enabled;
        return;
      }
      case "daypart": {
        const c = campaigns[op.campaign];
        const asOf = (lastAsOf = Math.max(clock.now(), lastAsOf + 1));
        await sys.campaignClocks[op.replica % sys.campaignClocks.length].setDaypartState({
          campaignId: c.id,
          inWindow: op.inWindow,
          asOfTime: timestampFromMs(asOf),
          sourceId: `model:${tag}`,
          scheduleVersion: c.scheduleVersion,
        });
        if (c.scheduled && asOf > c.daypart.asOf) c.daypart = { asOf, inWindow: op.inWindow };
        return;
      }
      case "advance":
        clock.advance(op.ms);
        return;
      case "reset":
        await reset(op.brand, op.replica);
        return;
      case "zone": {
        await h.brands.updateBrand({
          brand: { id: brands[op.brand].id, timeZone: op.zone },
          updateMask: { paths: ["time_zone"] },
        });
        await reset(op.brand, 0); // the brand's event wakes its reset clock, which opens the day of the new zone
        return;
      }
      case "redeliver": {
        // An old message again, as a redelivery or a replay would bring it (a new id: JetStream would drop a duplicate one).
        const jsm = await jetstreamManager(h.nc);
        const last = (await jsm.streams.info(streams[op.stream])).state.last_seq;
        if (last === 0) return;
        const m = await jsm.streams.getMessage(streams[op.stream], { seq: 1 + (op.pick % last) });
        if (m === null) return;
        await jetstream(h.nc).publish(m.subject, m.data, {
          msgID: `redelivered-${tag}-${randomBytes(6).toString("hex")}`,
        });
        return;
      }
      case "reconcile": {
        // One brand's step of the reconciliation pass, as the worker's activity runs it.
        const { brand } = await h.brands.getBrand({ id: brands[op.brand].id });
        await reconcileBrand(
          { budgetClock: h.budgetClock, campaignClock: sys.campaignClocks[op.replica % sys.campaignClocks.length] },
          brand!,
          `model:${tag}`,
        );
        return;
      }
    }
  };
  const withRetry = async (op: ModelOp) => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await exec(op);
      } catch (err) {
        const e = ConnectError.from(err);
        if ((e.code === Code.Unavailable || e.code === Code.Aborted) && attempt < 5) continue;
        problems.push(
          `${op.t} ${JSON.stringify(op, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))} failed: ${e.code} ${e.rawMessage}`,
        );
        return;
      }
    }
  };
  await Promise.all(
    schedule.workers.map(async (ops) => {
      for (const op of ops) await withRetry(op);
    }),
  );

  // The end: the clock stops; the reset clock of each brand whose day (or zone) changed since its
  // last reset runs, as it would have at the midnight; every message is handled. A brand whose day
  // did not change gets no opening: one would carry the day's latest state and hide a lost event.
  clock.freeze();
  for (const i of brands.keys()) {
    const { brand } = await h.brands.getBrand({ id: brands[i].id });
    if (opened.get(i) !== `${brand!.timeZone} ${formatDate(periodsOf(clock.now(), brand!.timeZone).day)}`)
      await reset(i, i);
  }
  await quiescent(sys);

  const now = clock.now();
  const paused: Record<string, number> = {};
  for (const [i, b] of brands.entries()) {
    const { brand } = await h.brands.getBrand({ id: b.id });
    const zone = brand!.timeZone;
    const mine = spends.filter((s) => s.brand === i);
    const modelBrand = { zone, archived: false, dailyLimit: b.daily, monthlyLimit: b.monthly };
    for (const c of campaigns.filter((x) => x.brand === i)) {
      const want = expectedServing(
        now,
        modelBrand,
        { enabled: c.enabled, inDaypart: c.scheduled ? c.daypart.inWindow : true, dailyCap: c.cap },
        c.id,
        mine,
      );
      const got = (await sys.campaigns[0].getCampaign({ id: c.id })).campaign!;
      const gotReasons = got.pauseReasons.map(reasonName);
      if (!got.serving) paused[gotReasons.join("+")] = (paused[gotReasons.join("+")] ?? 0) + 1;
      if (got.serving !== want.serving || gotReasons.join() !== want.reasons.join()) {
        problems.push(
          `campaign ${c.id} of brand ${i} (${zone}, today ${localDateOf(now, zone)}): holds ${got.serving ? "serving" : "paused"} [${gotReasons.join(",")}], ` +
            `the rules say ${want.serving ? "serving" : "paused"} [${want.reasons.join(",")}]`,
        );
      }
    }
    const today = localDateOf(now, zone);
    const daySpent = mine.filter((s) => localDateOf(s.occurredAtMs, zone) === today).reduce((t, s) => t + s.amount, 0n);
    const monthSpent = mine
      .filter((s) => localDateOf(s.occurredAtMs, zone).slice(0, 7) === today.slice(0, 7))
      .reduce((t, s) => t + s.amount, 0n);
    const { status } = await sys.budgets[0].getBudgetStatus({ brandId: b.id });
    for (const [what, p, spent, lim] of [
      ["day", status?.day, daySpent, b.daily],
      ["month", status?.month, monthSpent, b.monthly],
    ] as const) {
      const exhausted = lim !== null && spent >= lim;
      if (p?.spentMicros !== spent || p.exhausted !== exhausted || (p.limitMicros ?? null) !== lim) {
        problems.push(
          `brand ${i} ${what}: the ledger says spent ${p?.spentMicros} of ${p?.limitMicros ?? "no limit"} exhausted ${p?.exhausted}, ` +
            `the model ${spent} of ${lim ?? "no limit"} exhausted ${exhausted}`,
        );
      }
    }
  }
  return {
    divergences: problems,
    campaigns: campaigns.length,
    paused,
    spends: spends.length,
    ops: schedule.workers.reduce((n, w) => n + w.length, 0),
  };
}

/**
 * Waits until nothing is in flight: every outbox published and every durable consumer of the
 * system's streams with nothing pending or unacknowledged, twice in a row (a message handled
 * can publish another).
 */
export async function quiescent(sys: ModelSystem, timeoutMs = 60_000): Promise<void> {
  const { h } = sys;
  const jsm = await jetstreamManager(h.nc);
  const deadline = Date.now() + timeoutMs;
  let quietPolls = 0;
  while (quietPolls < 2) {
    if (Date.now() > deadline) throw new Error("the system did not become quiet");
    let busy =
      (await h.budgetApp.relay.pending()) + (await h.campaignApp.relay.pending()) + (await h.brandApp.relay.pending());
    for (const stream of [h.budgetStream, h.brandStream, h.campaignStream]) {
      for await (const c of jsm.consumers.list(stream)) busy += c.num_pending + c.num_ack_pending;
    }
    quietPolls = busy === 0 ? quietPolls + 1 : 0;
    await new Promise((r) => setTimeout(r, 100));
  }
}

const REASONS: Record<PauseReason, ModelReason | "UNSPECIFIED"> = {
  [PauseReason.UNSPECIFIED]: "UNSPECIFIED",
  [PauseReason.PAUSED_BY_USER]: "PAUSED_BY_USER",
  [PauseReason.OUTSIDE_DAYPART]: "OUTSIDE_DAYPART",
  [PauseReason.DAILY_BUDGET_EXHAUSTED]: "DAILY_BUDGET_EXHAUSTED",
  [PauseReason.MONTHLY_BUDGET_EXHAUSTED]: "MONTHLY_BUDGET_EXHAUSTED",
  [PauseReason.BRAND_ARCHIVED]: "BRAND_ARCHIVED",
  [PauseReason.NOT_STARTED]: "NOT_STARTED",
  [PauseReason.ENDED]: "ENDED",
  [PauseReason.CAMPAIGN_BUDGET_EXHAUSTED]: "CAMPAIGN_BUDGET_EXHAUSTED",
  [PauseReason.LIFETIME_BUDGET_EXHAUSTED]: "LIFETIME_BUDGET_EXHAUSTED",
};

function reasonName(r: PauseReason): string {
  return REASONS[r] ?? `PauseReason(${r})`;
}
