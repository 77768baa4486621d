import { Code, ConnectError } from "@connectrpc/connect";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { capDaysVerdict, capEventDays } from "./cap-verdict.ts";
import { setUp, type Cast } from "./cast.ts";
import { heldBoundaryVerdict } from "./clock-verdicts.ts";
import { crossingHeldVerdict, DurableProbe, holds, type CrossingObservation } from "./crossing.ts";
import { latencyVerdict, ProxiedProbe } from "./db-probe.ts";
import { query, type Verdict } from "./invariants.ts";
import { killProcess, killVerdict, restartProcess, type KillRecord } from "./kills.ts";
import { SpendLoad } from "./load.ts";
import { natsHeldVerdict, outagePauseVerdict, type NatsOutage } from "./nats-outage.ts";
import { HealthPoller, Watcher } from "./observers.ts";
import { periodFlagsVerdict, readPeriods } from "./period-flags.ts";
import { readBrands } from "./serving-truth.ts";
import { startChaosSystem, type ChaosSystem } from "./system.ts";
import { systemInvariants } from "./system-invariants.ts";
import { workerPolls } from "./worker-probe.ts";

/** How long each fault lasts and how much load runs: the full run and the short one of npm test. */
export interface Plan {
  name: string;
  writers: number;
  /** Outages (database cut, database latency, NATS down, Temporal down), ms. */
  outageMs: number;
  /** A SIGKILLed process is started again after this, ms. */
  restartAfterMs: number;
  /** Budget replica SIGKILLs during the load. */
  budgetKills: number;
  /** When the brands' local midnight falls, counted from the start (the whole schedule fits before it). */
  midnightAfterMs: number;
  log?: (line: string) => void;
}

// The midnight comes after the system's start (about 40 s here), the set-up and the faults before
// the clocks' (the full schedule about 80 s, the short one 45 s), with a margin for a slow machine.
// The short run's margin is a minute more than it was: in `npm test` the SDK suites start their
// systems (five processes and a Temporal dev server each) beside it, and two runs there found
// the schedule 5.0 and 7.2 s late with 150 s.
export const FULL: Plan = {
  name: "full",
  writers: 8,
  outageMs: 10_000,
  restartAfterMs: 3000,
  budgetKills: 2,
  midnightAfterMs: 200_000,
};
export const SHORT: Plan = {
  name: "short",
  writers: 3,
  outageMs: 6000,
  restartAfterMs: 2000,
  budgetKills: 1,
  midnightAfterMs: 210_000,
};

export interface Report {
  plan: Plan;
  verdicts: Verdict[];
  faults: { at: number; what: string }[];
  load: SpendLoad;
  convergedMs: number;
  ok: boolean;
}

const DAY = 86_400_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

/**
 * The faults, on a real process system under a steady spend load, then the invariants. The
 * system's clock is shifted so that a local midnight (a reset and a daypart boundary) falls inside
 * the Temporal outage and a daypart boundary a minute earlier inside the clocks worker's crash.
 */
export async function runChaos(plan: Plan): Promise<Report> {
  const log = plan.log ?? ((line: string) => console.error(line));
  const midnight = (Math.floor(Date.now() / DAY) + 3) * DAY;
  const system = await startChaosSystem({ clockOffsetMs: midnight - (Date.now() + plan.midnightAfterMs) });
  const t0 = Date.now();
  const faults: { at: number; what: string }[] = [];
  const fault = (what: string) => {
    faults.push({ at: Date.now(), what });
    log(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
  };
  const untilShifted = async (at: number, what: string) => {
    if (system.now() > at)
      throw new Error(`the schedule ran late: ${what} was due ${system.now() - at} ms ago (raise midnightAfterMs)`);
    await sleep(at - system.now());
  };
  let watchers: Watcher[] = [];
  let pollers: HealthPoller[] = [];
  let load: SpendLoad | undefined;
  let probe: DurableProbe | undefined;
  try {
    const cast = await setUp(system, midnight);
    log(
      `[chaos] system up (${system.replicas.length} replicas, clocks, NATS, Temporal, PostgreSQL behind toxiproxy); midnight at +${((midnight - system.now()) / 1000).toFixed(0)}s`,
    );
    watchers = system.replicasOf("campaign").map((r) => new Watcher(r.name, system.client(CampaignService, r.url)));
    pollers = system.replicas.map((r) => new HealthPoller(r.name, r.url));
    load = new SpendLoad(system.client(BudgetService, system.balanced.budget, cast.adServer), cast.loadTargets, {
      writers: plan.writers,
      now: system.now,
    });
    load.start();
    /** Every SIGKILL, with what it did (killVerdict). */
    const kills: KillRecord[] = [];

    const budgets = system.replicasOf("budget");
    for (let k = 0; k < plan.budgetKills; k++) {
      await sleep(4000);
      const victim = budgets[k % budgets.length];
      fault(`SIGKILL ${victim.name} (under load)`);
      const record = await killProcess(victim.process, `${victim.name} (under load)`);
      kills.push(record);
      await sleep(plan.restartAfterMs);
      await restartProcess(victim.process, record, () => system.healthy(victim));
      fault(`${victim.name} restarted`);
    }

    await sleep(3000);
    fault(`PostgreSQL unreachable for ${plan.outageMs / 1000}s`);
    const cutAt = Date.now();
    await system.db.cut();
    await sleep(plan.outageMs);
    await system.db.restore();
    const restoredAt = Date.now();
    fault("PostgreSQL reachable again");
    const readiness = { cutAt, restoredAt };

    await sleep(3000);
    // A connection opened before the latency, timed under it: the proof that it took effect.
    const dbProbe = await ProxiedProbe.open(system.databases.budget.url, system.db.port);
    const normalMs = await dbProbe.roundTripMs();
    fault(`PostgreSQL ${DB_LATENCY_MS} ms slower each way for ${plan.outageMs / 1000}s`);
    const slowedAt = Date.now();
    await system.db.slow(DB_LATENCY_MS);
    const slowedMs = await dbProbe.roundTripMs();
    await dbProbe.close();
    await sleep(plan.outageMs - (Date.now() - slowedAt));
    await system.db.unslow();
    fault("PostgreSQL latency back to normal");

    await sleep(3000);
    fault(`NATS killed for ${plan.outageMs / 1000}s (events produced and consumed meanwhile)`);
    const natsKill = await killProcess(system.nats.process, "NATS");
    kills.push(natsKill);
    const natsKilledAt = Date.now();
    // An event made while NATS is down: it must wait in the outbox, and its campaign for NATS.
    await settled(() =>
      system.budget.recordSpend({
        eventId: "during-nats-outage",
        brandId: cast.outage.brandId,
        campaignId: cast.outage.campaignId,
        amountMicros: 2_000_000n,
      }),
    );
    fault("a spend exhausted the NATS-outage brand's day");
    await sleep(plan.outageMs - (Date.now() - natsKilledAt));
    const natsStartedAt = Date.now();
    await restartProcess(system.nats.process, natsKill, () => system.nats.ready());
    const natsOutage: NatsOutage = {
      killedAt: natsKilledAt,
      startedAt: natsStartedAt,
      readyAt: Date.now(),
      clockOffsetMs: system.clockOffsetMs,
      markerSubject: `${system.prefix}.budget.exhausted.${cast.outage.brandId}`,
    };
    fault("NATS back");

    // A spend that crosses a limit while both campaign replicas are frozen (SIGSTOP): JetStream
    // delivers its exhausted event to one of them, which cannot handle it; once the durable shows
    // it delivered and unacknowledged, both die (SIGKILL) holding it, and JetStream redelivers it
    // after the ack wait. Without the freeze the kill raced the relay and the handler: it could land
    // before the event was published or after it was handled, and nothing told which.
    await sleep(3000);
    const campaignReplicas = system.replicasOf("campaign");
    // The budget replica that records the crossing must know the campaign already: an unknown
    // one is looked up in CampaignService, which is about to be frozen.
    const crossingBudget = budgets[0];
    if (crossingBudget === undefined) throw new Error("no budget replica");
    const crossingVia = system.client(BudgetService, crossingBudget.url);
    await settled(() =>
      crossingVia.recordSpend({
        eventId: "crossing-warm",
        brandId: cast.crossing.brandId,
        campaignId: cast.crossing.campaignId,
        amountMicros: 1n,
      }),
    );
    probe = await DurableProbe.open(system.nats.url, system.streams.budget, system.campaignBudgetDurable);
    for (const r of campaignReplicas) r.process.freeze();
    await crossingVia.recordSpend(
      {
        eventId: "crossing",
        brandId: cast.crossing.brandId,
        campaignId: cast.crossing.campaignId,
        amountMicros: 2_000_000n,
      },
      { timeoutMs: 10_000 },
    );
    const crossingSeq = await probe.lastSeqOf(`${system.prefix}.budget.exhausted.${cast.crossing.brandId}`, 15_000);
    const atKill =
      crossingSeq === undefined
        ? undefined
        : ((await probe.until((f) => holds(f, crossingSeq), 15_000)) ?? (await probe.figures().catch(() => undefined)));
    fault(
      `crossing spend for ${cast.crossing.brandId} (event seq ${crossingSeq ?? "none"}, ${atKill?.numAckPending ?? "?"} ack pending), then SIGKILL ${campaignReplicas.map((r) => r.name).join(" and ")}`,
    );
    const crossingKills = await Promise.all(
      campaignReplicas.map(async (r) => ({
        r,
        record: await killProcess(r.process, `${r.name} (holding the crossing's event)`),
      })),
    );
    kills.push(...crossingKills.map((k) => k.record));
    await sleep(plan.restartAfterMs);
    await Promise.all(crossingKills.map(({ r, record }) => restartProcess(r.process, record, () => system.healthy(r))));
    const restartedAt = Date.now();
    fault("campaign replicas restarted");
    let pausedAfterMs = NaN;
    let maxRedelivered = 0;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
      const f = await probe.figures().catch(() => undefined);
      maxRedelivered = Math.max(maxRedelivered, f?.numRedelivered ?? 0);
      const c = (await system.campaigns.getCampaign({ id: cast.crossing.campaignId }).catch(() => undefined))?.campaign;
      if (c?.pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED)) {
        pausedAfterMs = Date.now() - restartedAt;
        break;
      }
    }
    const crossing: CrossingObservation = {
      messageSeq: crossingSeq,
      atKill,
      maxRedelivered,
      acked:
        crossingSeq === undefined ? undefined : await probe.until((f) => f.ackFloorStreamSeq >= crossingSeq, 15_000),
    };
    await probe.close();
    probe = undefined;
    fault(`the crossing brand's campaign paused ${(pausedAfterMs / 1000).toFixed(1)}s after the restart`);

    // The clocks worker dies with a daypart boundary due in a few seconds.
    await untilShifted(cast.clockBoundary - 3000, "the clocks worker's crash");
    fault("SIGKILL the clocks worker (a daypart boundary due in 3 s)");
    const clocksKill = await killProcess(system.clocks, "clocks worker (a daypart boundary due)");
    kills.push(clocksKill);
    await untilShifted(cast.clockBoundary + plan.restartAfterMs, "the clocks worker's restart");
    const clocksBackAt = system.now();
    // Not awaited here: the worker's start-up must not delay the schedule (Temporal's outage).
    const clocksBack = restartProcess(system.clocks, clocksKill, () =>
      workerPolls(system.temporal.address, `${system.prefix}-clocks`, system.clocks.pid, 120_000),
    );
    fault("clocks worker restarted");

    // Temporal is down across the brands' local midnight (a reset) and a daypart boundary.
    await untilShifted(midnight - Math.floor(plan.outageMs / 2), "Temporal's outage");
    fault(`Temporal killed for ${plan.outageMs / 1000}s across the local midnight`);
    const temporalKill = await killProcess(system.temporal.process, "Temporal (across the local midnight)");
    kills.push(temporalKill);
    await sleep(plan.outageMs);
    const temporalBackAt = system.now();
    await restartProcess(system.temporal.process, temporalKill, () => system.temporal.ready());
    fault("Temporal back");

    await sleep(8000);
    await load.stop();
    await clocksBack;
    fault(`load stopped: ${load.records.length} events`);

    const { verdicts, convergedMs, outbox, messagesOf } = await systemInvariants(
      {
        clients: system,
        databases: system.databases,
        streams: system.streams,
        natsUrl: system.nats.url,
        now: system.now,
      },
      cast,
      load.records,
      watchers,
    );
    verdicts.push(killVerdict(kills));
    verdicts.push(latencyVerdict(normalMs, slowedMs, DB_LATENCY_MS));
    verdicts.push(natsHeldVerdict(outbox, natsOutage));
    const outagePause = (await stateChanges(system, cast.outage.campaignId, "budget.exhausted"))[0];
    verdicts.push(
      outagePauseVerdict(
        outagePause && { changedAtShifted: outagePause.at, sourceId: outagePause.sourceId },
        outbox.find((r) => r.subject === natsOutage.markerSubject),
        natsOutage,
        15_000,
      ),
    );
    verdicts.push(crossingHeldVerdict(crossing));
    for (const [what, campaignId, cause, dueAt, backAt] of [
      [
        "the daypart boundary inside the clocks worker's crash",
        cast.clockwork,
        "daypart",
        cast.clockBoundary,
        clocksBackAt,
      ],
      [
        "the daypart boundary at midnight, inside Temporal's outage",
        cast.midnightDaypart,
        "daypart",
        midnight,
        temporalBackAt,
      ],
      ["the reset at midnight, inside Temporal's outage", cast.reset, "reset.day", midnight, temporalBackAt],
    ] as const) {
      const applied = (await stateChanges(system, campaignId, cause)).map((c) => c.at).filter((at) => at >= dueAt);
      verdicts.push(heldBoundaryVerdict({ what, dueAt, backAt, applied }, 15_000));
    }
    verdicts.push({
      name: "no call answered INTERNAL or UNKNOWN",
      ok: load.internal.length === 0,
      figures: `${load.records.length} events sent`,
      problems: load.internal.slice(0, 20),
    });
    const readinessProblems: string[] = [];
    for (const p of pollers) {
      if (
        !p.saw("NOT_SERVING", readiness.cutAt, readiness.restoredAt) &&
        !p.saw("UNREACHABLE", readiness.cutAt, readiness.restoredAt)
      )
        readinessProblems.push(`${p.name} never said NOT_SERVING during the database cut`);
      if (p.changes.at(-1)?.status !== "SERVING") readinessProblems.push(`${p.name} ends ${p.changes.at(-1)?.status}`);
    }
    verdicts.push({
      name: "readiness went NOT_SERVING during the database cut and back",
      ok: readinessProblems.length === 0,
      figures: `${pollers.length} replicas polled`,
      problems: readinessProblems,
    });
    verdicts.push({
      name: "a campaign stops within a few seconds of the restart of the replica that died holding its event",
      ok: pausedAfterMs <= 10_000,
      figures: `paused ${(pausedAfterMs / 1000).toFixed(1)}s after the restart (ack wait 5 s)`,
      problems: pausedAfterMs <= 10_000 ? [] : [`paused ${pausedAfterMs} ms after the restart`],
    });
    verdicts.push(await capVerdict(system, cast, messagesOf(system.streams.budget)));
    const periods = await readPeriods(system.databases.budget.url);
    verdicts.push(
      periodFlagsVerdict(periods, await readBrands(system, [...new Set(periods.map((p) => p.brandId))]), system.now()),
    );
    return { plan, verdicts, faults, load, convergedMs, ok: verdicts.every((v) => v.ok) };
  } catch (err) {
    // The schedule so far: which fault the run stopped at, and how long each step took.
    const timeline = faults.map((f) => `  +${((f.at - t0) / 1000).toFixed(1)}s ${f.what}`).join("\n");
    throw new Error(`${(err as Error).stack}\nfaults so far:\n${timeline}\n${system.tail()}`, { cause: err });
  } finally {
    await load?.stop();
    await probe?.close();
    for (const w of watchers) await w.stop();
    for (const p of pollers) await p.stop();
    await system.stop();
  }
}

/** Latency added to each direction of the database's traffic in the latency fault. */
const DB_LATENCY_MS = 500;

/** Calls `call` until it is answered; UNAVAILABLE and broken connections are retried for up to 30 s. */
export async function settled<T>(call: () => Promise<T>): Promise<T> {
  for (const deadline = Date.now() + 30_000; ; await sleep(200)) {
    try {
      return await call();
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (Date.now() > deadline || (code !== Code.Unavailable && code !== Code.DeadlineExceeded)) throw err;
    }
  }
}

/** A campaign's audit rows of one cause, oldest first (services' clock, ms). */
export async function stateChanges(
  system: { databases: { campaign: { url: string } } },
  campaignId: string,
  cause: string,
): Promise<{ at: number; sourceId: string }[]> {
  const rows = await query<{ at: Date; source_id: string }>(
    system.databases.campaign.url,
    "select changed_at as at, source_id from state_changes where campaign_id = $1 and cause = $2 order by changed_at, id",
    [campaignId, cause],
  );
  return rows.map((r) => ({ at: r.at.getTime(), sourceId: r.source_id }));
}

/**
 * The capped load campaign, per local day of its brand (capDaysVerdict): the day's spend from
 * the ledger, and the cap stops of its audit log, each placed on the day its cap event names.
 */
async function capVerdict(
  system: ChaosSystem,
  cast: Cast,
  budgetMessages: Parameters<typeof capEventDays>[0],
): Promise<Verdict> {
  const { brand } = await system.brands.getBrand({ id: cast.capped.brandId });
  const eventDays = capEventDays(budgetMessages);
  const spend = await query<{ at: Date; amount: string }>(
    system.databases.budget.url,
    "select occurred_at as at, amount_micros::text as amount from spend_events where brand_id = $1 and campaign_id = $2",
    [cast.capped.brandId, cast.capped.campaignId],
  );
  const stops = await stateChanges(system, cast.capped.campaignId, "campaign_budget.exhausted");
  return capDaysVerdict({
    cap: cast.capped.cap,
    zone: brand?.timeZone ?? "UTC",
    spend: spend.map((s) => ({ occurredAtMs: s.at.getTime(), amount: BigInt(s.amount) })),
    stops: stops.map((s) => ({
      sourceId: s.sourceId,
      changedAtShifted: s.at,
      day: eventDays.get(s.sourceId.replace(/^nats:/, "")),
    })),
  });
}
