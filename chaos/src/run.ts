import { FlightPhase, isInside, parseClock } from "@adbudget/time";
import { servingState } from "@adbudget/campaign-service";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import pg from "pg";
import { campaignInvariants, eventInvariants, ledgerInvariants, type Verdict } from "./invariants.ts";
import { SpendLoad } from "./load.ts";
import { HealthPoller, Watcher } from "./observers.ts";
import { startChaosSystem, type ChaosSystem } from "./system.ts";
import { setUp, type Cast } from "./cast.ts";

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
export const FULL: Plan = { name: "full", writers: 8, outageMs: 10_000, restartAfterMs: 3000, budgetKills: 2, midnightAfterMs: 200_000 };
export const SHORT: Plan = { name: "short", writers: 3, outageMs: 6000, restartAfterMs: 2000, budgetKills: 1, midnightAfterMs: 150_000 };

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
    if (system.now() > at) throw new Error(`the schedule ran late: ${what} was due ${system.now() - at} ms ago (raise midnightAfterMs)`);
    await sleep(at - system.now());
  };
  let watchers: Watcher[] = [];
  let pollers: HealthPoller[] = [];
  let load: SpendLoad | undefined;
  try {
    const cast = await setUp(system, midnight);
    log(`[chaos] system up (${system.replicas.length} replicas, clocks, NATS, Temporal, PostgreSQL behind toxiproxy); midnight at +${((midnight - system.now()) / 1000).toFixed(0)}s`);
    watchers = system.replicasOf("campaign").map((r) => new Watcher(r.name, system.client(CampaignService, r.url)));
    pollers = system.replicas.map((r) => new HealthPoller(r.name, r.url));
    load = new SpendLoad(system.client(BudgetService, system.balanced.budget, cast.adServer), cast.loadTargets, { writers: plan.writers, now: system.now });
    load.start();

    const budgets = system.replicasOf("budget");
    for (let k = 0; k < plan.budgetKills; k++) {
      await sleep(4000);
      const victim = budgets[k % budgets.length]!;
      fault(`SIGKILL ${victim.name} (under load)`);
      await victim.process.kill();
      await sleep(plan.restartAfterMs);
      victim.process.start();
      await system.healthy(victim);
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
    fault(`PostgreSQL 500 ms slower each way for ${plan.outageMs / 1000}s`);
    await system.db.slow(500);
    await sleep(plan.outageMs);
    await system.db.unslow();
    fault("PostgreSQL latency back to normal");

    await sleep(3000);
    fault(`NATS killed for ${plan.outageMs / 1000}s (events produced and consumed meanwhile)`);
    await system.nats.process.kill();
    await sleep(plan.outageMs);
    system.nats.process.start();
    await system.nats.ready();
    fault("NATS back");

    // A spend that crosses a limit, and the campaign replicas die at once: whichever had pulled
    // the exhausted event dies holding it (JetStream redelivers it after the ack wait).
    await sleep(3000);
    const campaignReplicas = system.replicasOf("campaign");
    await system.budget.recordSpend({ eventId: "crossing", brandId: cast.crossing.brandId, campaignId: cast.crossing.campaignId, amountMicros: 2_000_000n });
    fault(`crossing spend for ${cast.crossing.brandId}, then SIGKILL ${campaignReplicas.map((r) => r.name).join(" and ")}`);
    await Promise.all(campaignReplicas.map((r) => r.process.kill()));
    await sleep(plan.restartAfterMs);
    for (const r of campaignReplicas) r.process.start();
    await Promise.all(campaignReplicas.map((r) => system.healthy(r)));
    const restartedAt = Date.now();
    fault("campaign replicas restarted");
    let pausedAfterMs = NaN;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(100)) {
      const c = (await system.campaigns.getCampaign({ id: cast.crossing.campaignId }).catch(() => undefined))?.campaign;
      if (c?.pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED)) {
        pausedAfterMs = Date.now() - restartedAt;
        break;
      }
    }
    fault(`the crossing brand's campaign paused ${(pausedAfterMs / 1000).toFixed(1)}s after the restart`);

    // The clocks worker dies with a daypart boundary due in a few seconds.
    await untilShifted(cast.clockBoundary - 3000, "the clocks worker's crash");
    fault("SIGKILL the clocks worker (a daypart boundary due in 3 s)");
    await system.clocks.kill();
    await untilShifted(cast.clockBoundary + plan.restartAfterMs, "the clocks worker's restart");
    system.clocks.start();
    fault("clocks worker restarted");

    // Temporal is down across the brands' local midnight (a reset) and a daypart boundary.
    await untilShifted(midnight - Math.floor(plan.outageMs / 2), "Temporal's outage");
    fault(`Temporal killed for ${plan.outageMs / 1000}s across the local midnight`);
    await system.temporal.process.kill();
    await sleep(plan.outageMs);
    system.temporal.process.start();
    await system.temporal.ready();
    fault("Temporal back");

    await sleep(8000);
    await load.stop();
    fault(`load stopped: ${load.records.length} events`);

    const verdicts: Verdict[] = [];
    const zoneOf = () => "UTC";
    verdicts.push(...(await ledgerInvariants(system.databases.budget.url, load.records, zoneOf)));
    const campaigns = await campaignInvariants(() => actualCampaigns(system, cast), () => truth(system, cast), watchers, 90_000);
    verdicts.push(...campaigns.verdicts);
    verdicts.push(
      ...(await eventInvariants(system.nats.url, system.streams.budget, system.databases.budget.url, {
        brand: system.databases.brand.url, budget: system.databases.budget.url, campaign: system.databases.campaign.url,
      })),
    );
    verdicts.push(...(await clockInvariants(system, cast, midnight, plan)));
    verdicts.push({ name: "no call answered INTERNAL or UNKNOWN", ok: load.internal.length === 0, figures: `${load.records.length} events sent`, problems: load.internal.slice(0, 20) });
    const readinessProblems: string[] = [];
    for (const p of pollers) {
      if (!p.saw("NOT_SERVING", readiness.cutAt, readiness.restoredAt) && !p.saw("UNREACHABLE", readiness.cutAt, readiness.restoredAt)) readinessProblems.push(`${p.name} never said NOT_SERVING during the database cut`);
      if (p.changes.at(-1)?.status !== "SERVING") readinessProblems.push(`${p.name} ends ${p.changes.at(-1)?.status}`);
    }
    verdicts.push({ name: "readiness went NOT_SERVING during the database cut and back", ok: readinessProblems.length === 0, figures: `${pollers.length} replicas polled`, problems: readinessProblems });
    verdicts.push({
      name: "a campaign stops within a few seconds of the restart of the replica that died holding its event",
      ok: pausedAfterMs <= 10_000,
      figures: `paused ${(pausedAfterMs / 1000).toFixed(1)}s after the restart (ack wait 5 s)`,
      problems: pausedAfterMs <= 10_000 ? [] : [`paused ${pausedAfterMs} ms after the restart`],
    });
    verdicts.push(await capVerdict(system, cast));
    return { plan, verdicts, faults, load, convergedMs: campaigns.convergedMs, ok: verdicts.every((v) => v.ok) };
  } catch (err) {
    throw new Error(`${(err as Error).stack}\n${system.tail()}`);
  } finally {
    await load?.stop();
    for (const w of watchers) await w.stop();
    for (const p of pollers) await p.stop();
    await system.stop();
  }
}

/**
 * The capped load campaign reached its cap under the faults and was stopped by it: its audit log
 * holds one stop with cause campaign_budget.exhausted per day whose spend reached the cap (the
 * load runs across midnight, so one or two), never two for one day (a redelivered cap event
 * changes nothing twice).
 */
async function capVerdict(system: ChaosSystem, cast: Cast): Promise<Verdict> {
  const target = cast.loadTargets[1]!;
  const { changes } = await system.campaigns.listCampaignStateChanges({ campaignId: target.campaignId, pageSize: 1000 });
  const stops = changes.filter((c) => c.cause === "campaign_budget.exhausted");
  const problems: string[] = [];
  if (stops.length === 0) problems.push("the capped campaign was never stopped by its cap");
  if (stops.length > 2) problems.push(`${stops.length} cap stops (${stops.map((c) => c.sourceId).join(", ")}): more than one per day`);
  return { name: "a campaign stops on its own cap once per day, through the faults", ok: problems.length === 0, figures: `${stops.length} cap stop(s)`, problems };
}

/** Serving state and reasons of the cast's campaigns, as the campaign service holds them. */
async function actualCampaigns(system: ChaosSystem, cast: Cast): Promise<Map<string, { serving: boolean; reasons: number[] }>> {
  const out = new Map<string, { serving: boolean; reasons: number[] }>();
  for (const id of cast.campaignIds) {
    const c = (await system.campaigns.getCampaign({ id }).catch(() => undefined))?.campaign;
    if (c) out.set(id, { serving: c.serving, reasons: [...c.pauseReasons] });
  }
  return out;
}

/** What the serving rule says for each campaign, from its schedule, its brand's budget status and its cap now. */
async function truth(system: ChaosSystem, cast: Cast) {
  const out = [];
  for (const id of cast.campaignIds) {
    const c = (await system.campaigns.getCampaign({ id })).campaign!;
    const { status } = await system.budget.getBudgetStatus({ brandId: c.brandId });
    // The ledger's word on the campaign's own cap today (the campaign service learns it by event).
    const capped = c.dailyLimitMicros !== undefined && (await system.budget.getCampaignSpend({ brandId: c.brandId, campaignId: c.id })).exhausted;
    const windows = (c.schedule?.windows ?? []).map((w) => ({ days: [...w.daysOfWeek], start: parseClock(w.start, false)!, end: parseClock(w.end, true)! }));
    const s = servingState({
      enabled: c.enabled,
      inDaypart: windows.length === 0 || isInside(system.now(), windows, c.schedule!.timeZone || "UTC"),
      dayExhausted: status!.day!.exhausted,
      monthExhausted: status!.month!.exhausted,
      brandArchived: false,
      // The chaos cast has no flight dates.
      flight: FlightPhase.DURING,
      capExhausted: capped,
    });
    out.push({ id, serving: s.serving, reasons: s.reasons as number[] });
  }
  return out;
}

/**
 * Clocks: the daypart boundary inside the worker's crash and the midnight inside Temporal's
 * outage were each applied once, late by at most the outage plus a few seconds.
 */
async function clockInvariants(system: ChaosSystem, cast: Cast, midnight: number, plan: Plan): Promise<Verdict[]> {
  const c = new pg.Client({ connectionString: system.databases.campaign.url });
  await c.connect();
  try {
    const changes = async (campaignId: string, cause: string) =>
      (await c.query<{ at: Date; to_serving: boolean }>("select changed_at as at, to_serving from state_changes where campaign_id = $1 and cause = $2 order by id", [campaignId, cause])).rows;
    const verdicts: Verdict[] = [];
    const slack = 15_000;
    for (const [what, campaignId, cause, at, outage] of [
      ["the daypart boundary inside the clocks worker's crash", cast.clockwork, "daypart", cast.clockBoundary, 3000 + plan.restartAfterMs],
      ["the daypart boundary at midnight, inside Temporal's outage", cast.midnightDaypart, "daypart", midnight, plan.outageMs],
      ["the reset at midnight, inside Temporal's outage", cast.reset, "reset.day", midnight, plan.outageMs],
    ] as const) {
      const after = (await changes(campaignId, cause)).filter((r) => r.at.getTime() >= at);
      const late = after[0] ? after[0].at.getTime() - at : NaN;
      const ok = after.length === 1 && late <= outage + slack;
      verdicts.push({
        name: `${what}: applied once, late by at most the outage plus ${slack / 1000}s`,
        ok,
        figures: `${after.length} transition(s), late ${(late / 1000).toFixed(1)}s (outage ${(outage / 1000).toFixed(0)}s)`,
        problems: ok ? [] : [`${after.length} transitions after the boundary, first ${late} ms late`],
      });
    }
    return verdicts;
  } finally {
    await c.end();
  }
}
