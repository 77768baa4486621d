/*
 * The pacing controller: from a budget's actual spend and its target curve, the throttle in
 * [0, 1] ad servers apply (the share of serving opportunities taken). Pure functions, one step
 * per tick.
 *
 * It is feed-forward plus proportional correction: it estimates each campaign's demand (the
 * spend rate its traffic would give at throttle 1, learned from its spend at the throttle ad
 * servers had), and asks for the rate that brings spend onto the target curve `horizonMs` ahead:
 *
 *   rate = (target(now + horizon) - spent) / horizon,   throttle: demand x throttle = rate
 *
 * With the demand known, spent then follows the target with a first-order lag of time constant
 * `horizonMs`: no overshoot, so no oscillation (the step response in pacing-controller.test.ts).
 * It never starves: when spend is behind the target, `rate` is positive and so is the throttle,
 * and without a demand estimate it is 1.
 */

/** What the controller keeps between ticks of one campaign. */
export interface PacingMemory {
  /**
   * The number of the tick (pacing ticks are counted, one at a time, across replicas) that took
   * the baseline: only the next tick observes against it. A campaign not paced at some tick (its
   * brand accelerated, or skipped on an error) has no memory of it, so the throttle ad servers
   * had in between is not known and the baseline starts over.
   */
  tick: bigint;
  /** When the baseline was taken (the services' time). */
  atMs: number;
  /** The local day ("YYYY-MM-DD") of the baseline: a new day restarts it. */
  day: string;
  /** The campaign's spend of that day at the baseline. */
  spent: bigint;
  /** The throttle ad servers had from the baseline on (what was published, 1 if nothing). */
  applied: number;
  /** Demand estimate, micros per millisecond at throttle 1; null = none yet. */
  demand: number | null;
}

/** How demand is learned: an exponential moving average over time, not over ticks. */
export interface DemandOptions {
  /**
   * Its time constant: an observation over `dt` weighs 1 - e^(-dt/tau), so replicas that tick
   * a few milliseconds apart add almost nothing, and a long interval almost replaces the estimate.
   */
  tauMs: number;
  /** An interval longer than this is not observed (the spend of a long outage says little of now). */
  maxGapMs: number;
}

/**
 * Below this throttle an interval's spend says too little about demand (it is divided by the
 * throttle, so its noise is multiplied by 20 or more): the estimate is kept instead.
 */
const MIN_OBSERVED_THROTTLE = 0.05;

/** Throttles are kept to 0.001: finer is below what sampling in an ad server can tell apart. */
export function quantize(throttle: number): number {
  return Math.round(Math.min(1, Math.max(0, throttle)) * 1000) / 1000;
}

/**
 * The campaign's memory after observing its spend at tick `now.tick`: a new baseline (now), and
 * the demand estimate moved by the interval since the last one. `applied` is set by the caller
 * once the tick decides what ad servers have next.
 */
export function observe(
  prev: PacingMemory | undefined,
  now: { tick: bigint; nowMs: number; day: string; spent: bigint },
  o: DemandOptions,
): PacingMemory {
  const fresh = { tick: now.tick, atMs: now.nowMs, day: now.day, spent: now.spent, applied: prev?.applied ?? 1 };
  if (prev === undefined) return { ...fresh, demand: null };
  const dt = now.nowMs - prev.atMs;
  // A replica whose clock lags the last one's: keep the baseline whole rather than stamp later
  // spend with an earlier time.
  if (dt <= 0 && prev.day === now.day) return { ...prev, tick: now.tick };
  // Another day's spend is no baseline for today's; nor is the spend of ticks this campaign was
  // not paced at, of a long gap, or at a throttle too low to tell.
  if (
    prev.day !== now.day ||
    now.spent < prev.spent ||
    prev.tick !== now.tick - 1n ||
    dt > o.maxGapMs ||
    prev.applied < MIN_OBSERVED_THROTTLE
  )
    return { ...fresh, demand: prev.demand };
  // The first estimate needs an interval long enough to mean something: until then the baseline
  // is kept and the interval grows tick by tick. Later ones are weighed by their length, so a
  // short one moves the estimate by little.
  if (prev.demand === null && dt < o.tauMs / 30) return { ...prev, tick: now.tick };
  const observed = Number(now.spent - prev.spent) / dt / prev.applied;
  if (prev.demand === null) return { ...fresh, demand: observed };
  const weight = 1 - Math.exp(-dt / o.tauMs);
  return { ...fresh, demand: weight * observed + (1 - weight) * prev.demand };
}

export interface RateInput {
  nowMs: number;
  spent: bigint;
  limit: bigint;
  /** The target spend at an instant (pacing-curve.ts targetMicros for this day and limit). */
  targetAt: (instant: number) => bigint;
  /** The end of the local day: the target is the limit there. */
  dayEndMs: number;
  /** How far ahead the controller aims to be on the curve (its time constant). */
  horizonMs: number;
}

/** The spend rate (micros per ms) that puts spend on the curve `horizonMs` ahead; Infinity: take everything. */
export function wantedRate(i: RateInput): number {
  if (i.spent >= i.limit) return 0;
  const aimAt = Math.min(i.nowMs + i.horizonMs, i.dayEndMs);
  // At the day's very end what is left may all be spent.
  if (aimAt <= i.nowMs) return Infinity;
  const wanted = i.targetAt(aimAt) - i.spent;
  if (wanted <= 0n) return 0;
  return Number(wanted) / (aimAt - i.nowMs);
}

/** The throttle of one campaign whose own rate is paced (its cap): rate over its demand. */
export function throttleFor(rate: number, demand: number | null): number {
  if (rate <= 0) return 0;
  if (demand === null || demand <= 0) return 1;
  return quantize(rate / demand);
}

/**
 * The brand's throttle: the one value t such that its campaigns, each at min(t, its own cap's
 * throttle), spend at `rate` in all. The brand's spend is monotone in t, so bisection finds it
 * (to 2^-30). Campaigns without a demand estimate count as none yet; with none known, 1.
 */
export function brandThrottle(rate: number, campaigns: { demand: number | null; cap: number }[]): number {
  if (rate <= 0) return 0;
  const known = campaigns.filter((c): c is { demand: number; cap: number } => c.demand !== null && c.demand > 0);
  if (known.length === 0) return 1;
  const spendAt = (t: number) => known.reduce((sum, c) => sum + c.demand * Math.min(t, c.cap), 0);
  if (spendAt(1) <= rate) return 1;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (spendAt(mid) < rate) lo = mid;
    else hi = mid;
  }
  return quantize(lo);
}

/**
 * The step the throttle must move before it is published again (Campaign.throttle): ad servers
 * hear of 2-point moves, not of every tick's noise; the controller's feedback absorbs the rest.
 */
export const THROTTLE_STEP = 0.02;

/**
 * Whether a new throttle is worth publishing over the one ad servers have: a move of a full step,
 * or a move to 0 or 1 (stop taking traffic, or take all of it), which is never held back.
 */
export function worthPublishing(published: number | undefined, next: number): boolean {
  if (published === undefined) return true;
  if (next === published) return false;
  return Math.abs(next - published) >= THROTTLE_STEP - 1e-9 || next === 0 || next === 1;
}
