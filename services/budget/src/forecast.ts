/**
 * When a period runs out at the current pace (PeriodStatus.projected_exhaust_time). Pure, so
 * it is table- and property-tested; the service feeds it the last hour's spend.
 */
import { addDays, startOfDay, type CalendarDate } from "@adbudget/time";

/** The window the pace is measured over: the last hour, as account managers read it ("$40/h"). */
export const RATE_WINDOW_MS = 3_600_000;

export interface ForecastInput {
  /** What is left of the limit (absent: unlimited). */
  remaining: bigint | undefined;
  exhausted: boolean;
  /** Spend that occurred in the window before `nowMs`, counted toward this period. */
  spentInWindow: bigint;
  /** The window's length (default RATE_WINDOW_MS). */
  windowMs?: number;
  nowMs: number;
  /** The first instant of the next period (the local midnight, or the 1st, in the brand's zone). */
  periodEndMs: number;
}

/**
 * The instant the remaining budget is spent if spend goes on at the window's rate, rounded up
 * to the millisecond; undefined when unlimited, already exhausted, nothing was spent in the last
 * hour, or when that instant is not before the period's end (the period resets first).
 * Exact integer arithmetic: micros * ms / micros, no floating point on money. One period alone:
 * `forecastPeriods` is what answers a brand's day and month together.
 */
export function projectedExhaustion(f: ForecastInput): number | undefined {
  const windowMs = f.windowMs ?? RATE_WINDOW_MS;
  if (f.remaining === undefined || f.exhausted || f.spentInWindow <= 0n || windowMs <= 0) return undefined;
  const window = BigInt(Math.round(windowMs));
  // ceil(remaining * window / spentInWindow)
  const after = (f.remaining * window + f.spentInWindow - 1n) / f.spentInWindow;
  const horizon = BigInt(Math.max(0, f.periodEndMs - f.nowMs));
  if (after >= horizon) return undefined;
  return f.nowMs + Number(after);
}

/** A brand's current day and month as the forecast reads them. */
export interface BrandForecastInput {
  day: {
    /** The day's local date (its start), in `zone`. */
    start: CalendarDate;
    /** The day's limit (absent: unlimited): what every later day of the month may spend. */
    limit: bigint | undefined;
    remaining: bigint | undefined;
    exhausted: boolean;
  };
  month: {
    remaining: bigint | undefined;
    exhausted: boolean;
    /** The first instant of the next month in `zone`. */
    endMs: number;
  };
  /** Spend that occurred in the RATE_WINDOW_MS before `nowMs` (the brand's: it counts toward both). */
  spentInWindow: bigint;
  nowMs: number;
  zone: string;
}

/** The projected exhaustion instant of each period; absent where it does not run out first. */
export interface BrandForecast {
  dayMs: number | undefined;
  monthMs: number | undefined;
}

/**
 * When the brand's day and month run out, so that no projection passes a limit that stops
 * spend first.
 *
 * The model: spend goes on at the last hour's pace, around the clock, and stops whenever a
 * period it counts toward is exhausted.
 * - The month: today it can gain at most what is left of today's limit (spend stops when the
 *   day runs out, and only resumes at the next local midnight); every later day of the month it
 *   can gain at most the daily limit, starting from nothing at that day's midnight. The month
 *   runs out at the first instant its remaining is spent under those caps, if that is before
 *   the month ends. With no daily limit this is the single-period projection exactly.
 * - The day: its own projection, unless the month stops spend first (the month is exhausted
 *   already, or runs out strictly earlier): then the day's limit is never reached and the day
 *   has no projection; the month's says when spend stops.
 * Later days use the daily limit in force now (a period not yet ended follows the budget) and
 * ignore spend already dated into them (at most a few minutes ahead).
 */
export function forecastPeriods(f: BrandForecastInput): BrandForecast {
  if (f.spentInWindow <= 0n) return { dayMs: undefined, monthMs: undefined };
  const dayEndMs = startOfDay(addDays(f.day.start, 1), f.zone);
  const monthMs = monthExhaustion(f, dayEndMs);
  let dayMs = projectedExhaustion({ ...f.day, spentInWindow: f.spentInWindow, nowMs: f.nowMs, periodEndMs: dayEndMs });
  if (f.month.exhausted || (dayMs !== undefined && monthMs !== undefined && monthMs < dayMs)) dayMs = undefined;
  return { dayMs, monthMs };
}

/**
 * The month's projection under the daily caps. Exact integers in units of micros x ms per
 * window: one millisecond of pace adds `spentInWindow` units, a cap of `c` micros is
 * `c * RATE_WINDOW_MS` units, so nothing is rounded until the final instant (rounded up).
 */
function monthExhaustion(f: BrandForecastInput, dayEndMs: number): number | undefined {
  const { month, day } = f;
  if (month.remaining === undefined || month.exhausted) return undefined;
  const window = BigInt(RATE_WINDOW_MS);
  const pace = f.spentInWindow;
  let need = month.remaining * window;
  // Today: what is left of its limit (nothing when exhausted); unlimited days are one stretch.
  let cap: bigint | undefined = day.exhausted ? 0n : day.remaining;
  let from = f.nowMs;
  let to = day.limit === undefined ? month.endMs : Math.min(dayEndMs, month.endMs);
  let next = day.start;
  for (;;) {
    const byTime = pace * BigInt(Math.max(0, to - from));
    const byCap = cap === undefined ? undefined : cap * window;
    if (need <= byTime && (byCap === undefined || need <= byCap)) {
      const at = from + Number((need + pace - 1n) / pace);
      return at < month.endMs ? at : undefined;
    }
    if (to >= month.endMs) return undefined;
    need -= byCap === undefined || byTime < byCap ? byTime : byCap;
    // The next local day: from its midnight, at most the daily limit.
    next = addDays(next, 1);
    from = to;
    to = Math.min(startOfDay(addDays(next, 1), f.zone), month.endMs);
    cap = day.limit;
  }
}
