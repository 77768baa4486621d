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
  setHandler,
  sleep,
  workflowInfo,
} from "@temporalio/workflow";
import { formatDate, isInside, monthStart, nextBoundary, nextDayStart, periodsOf } from "@adbudget/time";
import type { Activities, ReconcileCounts } from "./activities.js";
import { MAX_ITERATIONS_PER_RUN, type ClockOffset, type DaypartInput, type ResetInput } from "./shared.js";

/** "Now" for the time rules: workflow time (replay-safe), shifted by the input's clock offset. */
const nowOf = (input: ClockOffset): number => Date.now() + (input.clockOffsetMs ?? 0);

const acts = proxyActivities<Activities>({
  startToCloseTimeout: "30 seconds",
  retry: { initialInterval: "1 second", backoffCoefficient: 2, maximumInterval: "1 minute" },
});

/** The schedule (or the brand's zone) changed: reload and recompute now. */
export const scheduleChangedSignal = defineSignal("scheduleChanged");
/** The campaign was deleted or lost its schedule (or the brand was archived): end. */
export const stopSignal = defineSignal("stop");
/** What the workflow believes now, for operators (Temporal UI "Queries"). */
export const stateQuery = defineQuery<{ inWindow: boolean | null; nextBoundary: string | null; iteration: number }>("state");

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
    if (spec.windows.length === 0) return "schedule removed";
    const now = nowOf(input);
    inWindow = isInside(now, spec.windows, spec.zone);
    await acts.setDaypartState({
      campaignId: input.campaignId,
      inWindow,
      asOfMs: now,
      sourceId: `${workflowInfo().workflowId}/${workflowInfo().runId}`,
    });
    next = nextBoundary(now, spec.windows, spec.zone);
    // Wait for the boundary (a durable timer) or a signal; no boundary = wait for a signal.
    const woke = next === undefined ? await condition(() => changed || stopped).then(() => true) : await condition(() => changed || stopped, next - now);
    if (!woke) log.info("daypart boundary", { campaignId: input.campaignId, at: new Date(next!).toISOString() });
    if (workflowInfo().continueAsNewSuggested) break;
  }
  if (stopped) return "stopped";
  return continueAsNew<typeof campaignDaypart>(input);
}

/** The brand's zone changed: recompute the next midnight. */
export const zoneChangedSignal = defineSignal("zoneChanged");

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
  setHandler(zoneChangedSignal, () => void (changed = true));
  setHandler(stopSignal, () => void (stopped = true));
  const source = () => `${workflowInfo().workflowId}/${workflowInfo().runId}`;

  for (let i = 0; i < MAX_ITERATIONS_PER_RUN; i++) {
    if (stopped) return "stopped";
    changed = false;
    const brand = await acts.loadBrand(input.brandId);
    if (!brand.exists || brand.archived) return "brand archived";
    const now = nowOf(input);
    const current = periodsOf(now, brand.timeZone);
    await acts.openBudgetPeriod({ brandId: input.brandId, kind: "day", start: formatDate(current.day), sourceId: source() });
    await acts.openBudgetPeriod({ brandId: input.brandId, kind: "month", start: formatDate(monthStart(current.day)), sourceId: source() });
    const next = nextDayStart(now, brand.timeZone);
    await condition(() => changed || stopped, Math.max(1, next.at - now));
    if (workflowInfo().continueAsNewSuggested) break;
  }
  if (stopped) return "stopped";
  return continueAsNew<typeof budgetReset>(input);
}

const reconcileActs = proxyActivities<Activities>({
  startToCloseTimeout: "10 minutes",
  heartbeatTimeout: undefined,
  retry: { initialInterval: "5 seconds", backoffCoefficient: 2, maximumInterval: "5 minutes" },
});

/** Totals of what reconciliation repaired since this workflow started (Temporal UI query). */
export const reconcileTotalsQuery = defineQuery<ReconcileCounts & { passes: number }>("totals");

/**
 * reconcile/clocks: every `intervalMs`, one reconciliation pass (activities.reconcile) that
 * compares budgets, schedules, campaign states and the clocks and repairs drift, counting what
 * it repaired. Counts accumulate across continue-as-new.
 */
export async function reconcileClocks(input: ClockOffset & { intervalMs: number; totals?: ReconcileCounts & { passes: number } }): Promise<void> {
  const totals = input.totals ?? {
    passes: 0, campaignsChecked: 0, brandsChecked: 0, daypartClocksStarted: 0, daypartStatesRepaired: 0, resetClocksStarted: 0, campaignsReset: 0,
  };
  setHandler(reconcileTotalsQuery, () => totals);
  for (let i = 0; i < MAX_ITERATIONS_PER_RUN; i++) {
    const counts = await reconcileActs.reconcile({ nowMs: nowOf(input), sourceId: `${workflowInfo().workflowId}/${workflowInfo().runId}` });
    totals.passes++;
    for (const k of Object.keys(counts) as (keyof ReconcileCounts)[]) totals[k] += counts[k];
    const repaired = counts.daypartClocksStarted + counts.daypartStatesRepaired + counts.resetClocksStarted + counts.campaignsReset;
    if (repaired > 0) log.warn("reconciliation repaired drift", { ...counts });
    await sleep(input.intervalMs);
    if (workflowInfo().continueAsNewSuggested) break;
  }
  return continueAsNew<typeof reconcileClocks>({ ...input, totals });
}
