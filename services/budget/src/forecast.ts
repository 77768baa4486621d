/**
 * When a period runs out at the current pace (PeriodStatus.projected_exhaust_time). Pure, so
 * it is table- and property-tested; the service feeds it the last hour's spend.
 */

/** The window the pace is measured over: the last hour, as account managers read it ("$40/h"). */
export const RATE_WINDOW_MS = 3_600_000;

export interface ForecastInput {
  /** What is left of the limit (absent: unlimited). */
  remaining: bigint | undefined;
  exhausted: boolean;
  /** Spend that occurred in the RATE_WINDOW_MS before `nowMs`, counted toward this period. */
  spentInWindow: bigint;
  nowMs: number;
  /** The first instant of the next period (the local midnight, or the 1st, in the brand's zone). */
  periodEndMs: number;
}

/**
 * The instant the remaining budget is spent if spend goes on at the last hour's rate, rounded up
 * to the millisecond; undefined when unlimited, already exhausted, nothing was spent in the last
 * hour, or when that instant is not before the period's end (the period resets first).
 * Exact integer arithmetic: micros * ms / micros, no floating point on money.
 */
export function projectedExhaustion(f: ForecastInput): number | undefined {
  if (f.remaining === undefined || f.exhausted || f.spentInWindow <= 0n) return undefined;
  const window = BigInt(RATE_WINDOW_MS);
  // ceil(remaining * window / spentInWindow)
  const after = (f.remaining * window + f.spentInWindow - 1n) / f.spentInWindow;
  const horizon = BigInt(Math.max(0, f.periodEndMs - f.nowMs));
  if (after >= horizon) return undefined;
  return f.nowMs + Number(after);
}
