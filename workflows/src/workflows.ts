/**
 * Workflow code: deterministic only. Time is workflow time (Date.now() is replay-safe), the
 * time functions are pure (@adbudget/time), and the services are reached through activities,
 * whose types alone are imported here.
 */
import {
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from "@temporalio/workflow";
import {
  addDays,
  formatDate,
  isInside,
  localDate,
  monthStart,
  nextBoundary,
  nextDayStart,
  nextFlightChange,
  flightOfDates,
  periodsOf,
  startOfDay,
  type DaypartWindow,
  type Flight,
} from "@adbudget/time";
import type { Activities } from "./activities.js";
import {
  addCounts,
  MAX_ITERATIONS_PER_RUN,
  NO_REPAIRS,
  type ClockOffset,
  type DaypartInput,
  type ReconcileCounts,
  type ResetInput,
} from "./shared.js";

/**
 * Patch: timers are measured from after the turn's activities (runs recorded before measured
 * them from before, and stay so on replay).
 */
const SLEEP_AFTER_ACTIVITIES = "sleep-after-activities";

/**
 * Patch: the next boundary is searched until found (a weekly window swallowed by a DST gap has
 * its next one a week later). Runs recorded before searched 8 days ahead and waited for a
 * signal without a timer when none was there; on replay they keep that answer.
 */
const UNBOUNDED_BOUNDARY_SEARCH = "unbounded-boundary-search";

/** The answer of the former 8-day search: the same boundary when it lies within its horizon. */
function boundaryWithin8Days(now: number, windows: DaypartWindow[], zone: string): number | undefined {
  const next = nextBoundary(now, windows, zone);
  return next !== undefined && next <= startOfDay(addDays(localDate(now, zone), 10), zone) ? next : undefined;
}

/**
 * Patch: the clock also keeps the campaign's flight (start and end dates): it wakes at the
 * flight's instants too, and runs for a campaign with flight dates but no schedule until its
 * flight has ended. Runs recorded before ended without a schedule and woke at boundaries only.
 */
const FLIGHT_DATES = "flight-dates";

/**
 * Patch: before ending (no schedule, no flight left), the clock looks again if a signal came
 * while it loaded the campaign: a schedule added back at that moment is then picked up, where
 * runs recorded before ended and left the campaign without a clock until reconciliation.
 */
const RELOAD_BEFORE_ENDING = "reload-before-ending";

/** "Now" for the time rules: workflow time (replay-safe), shifted by the input's clock offset. */
const nowOf = (input: ClockOffset): number => Date.now() + (input.clockOffsetMs ?? 0);

const acts = proxyActivities<Activities>({
  startToCloseTimeout: "30 seconds",
  retry: { initialInterval: "1 second", backoffCoefficient: 2, maximumInterval: "1 minute" },
});

/**
 * The daypart state write as a local activity: it runs inside the workflow task that the timer
 * woke, and its result is recorded with the next timer in the same task completion. A remote
 * activity costs two more server round trips per boundary (schedule, poll and complete the
 * activity, then a second workflow task), which at hundreds of campaigns closing at one instant
 * is what made the transitions seconds late. The write is idempotent (as-of and schedule version),
 * so a local retry after a worker crash is as safe as a remote one.
 */
const DAYPART_STATE_LOCAL = "daypart-state-local-activity";
const localActs = proxyLocalActivities<Activities>({
  // A call to the campaign service that takes 10 s is stuck: retry it (the write is idempotent).
  startToCloseTimeout: "10 seconds",
  // Retried inside the workflow task for a minute, then with timers (the SDK's local retry
  // threshold), backing off to one attempt a minute through an outage, as the remote activity did.
  retry: { initialInterval: "1 second", backoffCoefficient: 2, maximumInterval: "1 minute" },
});

/** The schedule (or the brand's zone) changed: reload and recompute now. */
export const scheduleChangedSignal = defineSignal("scheduleChanged");
/**
 * End now: the budget reset clock of an archived brand. Daypart clocks are no longer sent it (a
 * late message must not end a clock the campaign still needs: they reload and decide); they keep
 * handling it for signals recorded in histories before that.
 */
export const stopSignal = defineSignal("stop");
/** What the workflow believes now, for operators (Temporal UI "Queries"). */
export const stateQuery = defineQuery<{ inWindow: boolean | null; nextBoundary: string | null; iteration: number }>(
  "state",
);

/**
 * campaign-daypart/<campaignId>: keeps the campaign in or out of its daypart window. Each turn
 * loads the schedule, sets the state for the current instant (idempotent: the service ignores
 * an as-of older than the one applied), then sleeps until the next boundary or a signal. A
 * worker that was down wakes late and applies the state of the late instant, once. Continues as
 * new every MAX_ITERATIONS_PER_RUN turns or when Temporal suggests it.
 */
export async function campaignDaypart(input: DaypartInput): Promise<string> {
  let changed = false;
  let stopped = false;
  let inWindow: boolean | null = null;
  let next: number | undefined;
  let iteration = 0;
  setHandler(scheduleChangedSignal, () => void (changed = true));
  setHandler(stopSignal, () => void (stopped = true));
  setHandler(stateQuery, () => ({
    inWindow,
    nextBoundary: next === undefined ? null : new Date(next).toISOString(),
    iteration,
  }));

  let spec: Awaited<ReturnType<typeof acts.loadDaypart>> | undefined;
  for (; iteration < MAX_ITERATIONS_PER_RUN; iteration++) {
    if (stopped) return "stopped";
    // The schedule is reloaded only when it may have changed (first turn, or a signal): a timer
    // wake-up costs one activity, not two. Runs recorded before this change reload every turn.
    const reload = spec === undefined || changed || !patched("daypart-reload-on-signal-only");
    changed = false;
    if (reload) spec = await acts.loadDaypart(input.campaignId);
    if (spec === undefined || !spec.exists) return "campaign deleted";
    const flights = patched(FLIGHT_DATES);
    // The flight dates of the loaded spec (none in old histories).
    const flight: Flight = flights ? flightOfDates(spec.startDate, spec.endDate) : {};
    const hasFlight = flight.start !== undefined || flight.end !== undefined;
    if (spec.windows.length === 0 && !hasFlight) {
      if (changed && patched(RELOAD_BEFORE_ENDING)) continue;
      return "schedule removed";
    }
    const now = nowOf(input);
    inWindow = spec.windows.length === 0 ? true : isInside(now, spec.windows, spec.zone);
    const write = patched(DAYPART_STATE_LOCAL) ? localActs.setDaypartState : acts.setDaypartState;
    await write({
      campaignId: input.campaignId,
      inWindow,
      asOfMs: now,
      sourceId: `${workflowInfo().workflowId}/${workflowInfo().runId}`,
      ...(spec.scheduleVersion === undefined ? {} : { scheduleVersion: spec.scheduleVersion }),
    });
    next =
      spec.windows.length === 0
        ? undefined
        : patched(UNBOUNDED_BOUNDARY_SEARCH)
          ? nextBoundary(now, spec.windows, spec.zone)
          : boundaryWithin8Days(now, spec.windows, spec.zone);
    if (hasFlight) {
      // The flight's next instant (its start, or the first instant after its end), if sooner.
      const flightNext = nextFlightChange(now, flight, spec.brandZone ?? spec.zone);
      if (flightNext !== undefined && (next === undefined || flightNext < next)) next = flightNext;
      // No schedule and nothing left of the flight: nothing to wake for. A later end date
      // restarts the clock (UpdateCampaign's event).
      if (spec.windows.length === 0 && flightNext === undefined) {
        if (changed && patched(RELOAD_BEFORE_ENDING)) continue;
        return "no boundary ahead";
      }
    }
    // Wait for the boundary (a durable timer) or a signal; no boundary = wait for a signal. The
    // wait is measured from after the activity, so the boundary is not late by the activity's
    // time (minutes while it retries through an outage); a boundary already passed is applied at once.
    const wait = next === undefined ? undefined : next - (patched(SLEEP_AFTER_ACTIVITIES) ? nowOf(input) : now);
    const woke =
      wait === undefined
        ? await condition(() => changed || stopped).then(() => true)
        : wait <= 0
          ? false
          : await condition(() => changed || stopped, wait);
    if (!woke)
      log.info("daypart boundary", {
        campaignId: input.campaignId,
        at: next === undefined ? "none" : new Date(next).toISOString(),
      });
    if (workflowInfo().continueAsNewSuggested) break;
  }
  if (stopped) return "stopped";
  return continueAsNew<typeof campaignDaypart>(input);
}

/** The brand's zone changed: recompute the next midnight. */
export const zoneChangedSignal = defineSignal("zoneChanged");

/** What a budget reset clock believes now: the answer of its `state` query. */
export interface ResetState {
  /** The brand's zone the last turn counted its day in; null until the first turn has opened one. */
  zone: string | null;
  /** The brand's local day the last turn opened (YYYY-MM-DD); null before the first turn did. */
  day: string | null;
  /** The first instant of the next local day (ISO 8601, UTC), when the clock wakes next. */
  nextReset: string | null;
  /** Turns taken in this run (a run continues as new after MAX_ITERATIONS_PER_RUN). */
  iteration: number;
}
/**
 * The reset clock's state, for operators (Temporal UI "Queries", `temporal workflow query
 * --type state`), as the daypart clock answers its own. A query handler writes nothing to the
 * history, so running workflows pick it up on their next task without a patch.
 */
export const resetStateQuery = defineQuery<ResetState>("state");

/**
 * budget-reset/<brandId>: at the first instant of every local day of the brand's zone (its
 * midnight, or the end of a DST gap that swallows it), opens the new day, and on the 1st the
 * new month, so campaigns paused by the old period serve again. Each turn first opens the
 * current day and month (idempotent: a no-op when already open), so a late or missed run still
 * converges. Ends when the brand is archived or gone.
 */
export async function budgetReset(input: ResetInput): Promise<string> {
  let changed = false;
  let stopped = false;
  const state: ResetState = { zone: null, day: null, nextReset: null, iteration: 0 };
  setHandler(zoneChangedSignal, () => void (changed = true));
  setHandler(stopSignal, () => void (stopped = true));
  setHandler(resetStateQuery, () => ({ ...state }));
  const source = () => `${workflowInfo().workflowId}/${workflowInfo().runId}`;

  for (let i = 0; i < MAX_ITERATIONS_PER_RUN; i++) {
    if (stopped) return "stopped";
    changed = false;
    state.iteration = i;
    const brand = await acts.loadBrand(input.brandId);
    if (!brand.exists || brand.archived) return "brand archived";
    const now = nowOf(input);
    const current = periodsOf(now, brand.timeZone);
    await acts.openBudgetPeriod({
      brandId: input.brandId,
      kind: "day",
      start: formatDate(current.day),
      sourceId: source(),
    });
    await acts.openBudgetPeriod({
      brandId: input.brandId,
      kind: "month",
      start: formatDate(monthStart(current.day)),
      sourceId: source(),
    });
    const next = nextDayStart(now, brand.timeZone);
    // One turn's answer, set at once: a query never pairs a new zone with the old zone's day.
    Object.assign(state, {
      zone: brand.timeZone,
      day: formatDate(current.day),
      nextReset: new Date(next.at).toISOString(),
    });
    // Measured from after the activities (see the daypart clock): midnight is not late by them.
    const wait = next.at - (patched(SLEEP_AFTER_ACTIVITIES) ? nowOf(input) : now);
    if (wait > 0 || !patched(SLEEP_AFTER_ACTIVITIES)) await condition(() => changed || stopped, Math.max(1, wait));
    if (workflowInfo().continueAsNewSuggested) break;
  }
  if (stopped) return "stopped";
  return continueAsNew<typeof budgetReset>(input);
}

/**
 * Reconciliation goes by pages (activities.RECONCILE_PAGE_SIZE items each): a page takes
 * seconds, heartbeats per item, so a stuck call is noticed in 30 s and a worker crash repeats
 * one page, not the pass. Runs recorded before pages existed call the whole-pass activity.
 */
const reconcileActs = proxyActivities<Activities>({
  startToCloseTimeout: "10 minutes",
  heartbeatTimeout: "30 seconds",
  retry: { initialInterval: "5 seconds", backoffCoefficient: 2, maximumInterval: "5 minutes" },
});
const RECONCILE_BY_PAGES = "reconcile-by-pages";

/** One pass of reconciliation, page by page. */
async function reconcilePass(nowMs: number, sourceId: string): Promise<ReconcileCounts> {
  if (!patched(RECONCILE_BY_PAGES)) return reconcileActs.reconcile({ nowMs, sourceId });
  const total = { ...NO_REPAIRS };
  for (const step of [reconcileActs.reconcileBrands, reconcileActs.reconcileCampaigns]) {
    let pageToken = "";
    do {
      const page = await step({ nowMs, sourceId, pageToken });
      addCounts(total, page.counts);
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
  }
  return total;
}

/** Totals of what reconciliation repaired since this workflow started (Temporal UI query). */
export const reconcileTotalsQuery = defineQuery<ReconcileCounts & { passes: number }>("totals");

/**
 * reconcile/clocks: every `intervalMs`, one reconciliation pass (activities.reconcile) that
 * compares budgets, schedules, campaign states and the clocks and repairs drift, counting what
 * it repaired. Counts accumulate across continue-as-new.
 */
export async function reconcileClocks(
  input: ClockOffset & { intervalMs: number; totals?: ReconcileCounts & { passes: number } },
): Promise<void> {
  const totals = input.totals ?? { passes: 0, ...NO_REPAIRS };
  setHandler(reconcileTotalsQuery, () => totals);
  for (let i = 0; i < MAX_ITERATIONS_PER_RUN; i++) {
    const counts = await reconcilePass(nowOf(input), `${workflowInfo().workflowId}/${workflowInfo().runId}`);
    totals.passes++;
    addCounts(totals, counts);
    const repaired =
      counts.daypartClocksStarted + counts.daypartStatesRepaired + counts.resetClocksStarted + counts.campaignsReset;
    if (repaired > 0) log.warn("reconciliation repaired drift", { ...counts });
    await sleep(input.intervalMs);
    if (workflowInfo().continueAsNewSuggested) break;
  }
  return continueAsNew<typeof reconcileClocks>({ ...input, totals });
}
