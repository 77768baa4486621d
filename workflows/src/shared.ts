/**
 * Names and shapes shared by workflows, activities, the worker and clients. Deterministic and
 * dependency-free: workflow code imports this.
 */
import type { DaypartWindow } from "@adbudget/time";

export const TASK_QUEUE_DEFAULT = "adbudget";

export const daypartWorkflowId = (campaignId: string) => `campaign-daypart/${campaignId}`;
export const resetWorkflowId = (brandId: string) => `budget-reset/${brandId}`;

/** What the daypart workflow needs to know of its campaign (loaded by an activity). */
export interface DaypartSpec {
  exists: boolean;
  brandId: string;
  /** The zone the windows are in: the schedule's own, or the brand's. */
  zone: string;
  /** Normalized windows; empty = no schedule (the workflow ends). */
  windows: DaypartWindow[];
  /** The campaign's schedule version: SetDaypartState names it (absent in old histories). */
  scheduleVersion?: number;
  /** Flight dates, "YYYY-MM-DD" in the brand's zone (absent = open-ended, and in old histories). */
  startDate?: string;
  endDate?: string;
  /** The brand's zone, which the flight dates are in (absent in old histories). */
  brandZone?: string;
}

export interface BrandSpec {
  exists: boolean;
  archived: boolean;
  timeZone: string;
}

/**
 * CLOCK_OFFSET_MS of the worker that started the workflow (absent = 0): workflow time plus this
 * is "now" for the time rules, as in the services (tests and demos only; see @adbudget/kit clock).
 * It travels in the input so replays and continue-as-new see the same value.
 */
export interface ClockOffset {
  clockOffsetMs?: number;
}

export interface DaypartInput extends ClockOffset {
  campaignId: string;
  brandId: string;
}

export interface ResetInput extends ClockOffset {
  brandId: string;
}

/** How many sleeps a run makes before it continues as new (history stays small). */
export const MAX_ITERATIONS_PER_RUN = 200;

export const RECONCILE_WORKFLOW_ID = "reconcile/clocks";

/** What one reconciliation pass found and repaired. */
export interface ReconcileCounts {
  campaignsChecked: number;
  brandsChecked: number;
  daypartClocksStarted: number;
  daypartStatesRepaired: number;
  resetClocksStarted: number;
  campaignsReset: number;
}

export const NO_REPAIRS: Readonly<ReconcileCounts> = {
  campaignsChecked: 0,
  brandsChecked: 0,
  daypartClocksStarted: 0,
  daypartStatesRepaired: 0,
  resetClocksStarted: 0,
  campaignsReset: 0,
};

/** Adds `more` into `total`. */
export function addCounts(total: ReconcileCounts, more: ReconcileCounts): void {
  for (const k of Object.keys(more) as (keyof ReconcileCounts)[]) total[k] += more[k];
}
