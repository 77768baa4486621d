/*
 * The pacing controller: from a budget's actual spend and its target curve, the throttle in
 * [0, 1] ad servers apply (the share of serving opportunities taken). One pure step per tick.
 *
 * It is feed-forward plus proportional correction: it estimates the demand (the spend rate the
 * traffic would give at throttle 1, learned from the spend observed at the throttle in force),
 * and asks for the rate that brings spend onto the target curve `horizonMs` ahead:
 *
 *   rate = (target(now + horizon) - spent) / horizon,   throttle = clamp(rate / demand, 0, 1)
 *
 * With the demand known, spent then follows the target with a first-order lag of time constant
 * `horizonMs`: no overshoot, so no oscillation (the step response in pacing-controller.test.ts).
 * It never starves: when spend is behind the target, `rate` is positive and so is the throttle,
 * and without a demand estimate (nothing spent yet at a throttle worth observing) it is 1.
 */

/** What the controller keeps between ticks of one budget (one brand day, or one campaign cap). */
export interface PacingMemory {
  /** The tick it was computed at. */
  atMs: number;
  /** The local day ("YYYY-MM-DD") it was computed for: a new day restarts the spend baseline. */
  day: string;
  /** The spend of that day at that tick. */
  spent: bigint;
  /** The throttle it asked for. */
  throttle: number;
  /** Demand estimate, micros per millisecond at throttle 1; null = none yet. */
  demand: number | null;
}

export interface PacingInput {
  nowMs: number;
  day: string;
  spent: bigint;
  limit: bigint;
  /** The target spend at an instant (pacing-curve.ts targetMicros for this day and limit). */
  targetAt: (instant: number) => bigint;
  /** The end of the local day: the target is the limit there. */
  dayEndMs: number;
  /** How far ahead the controller aims to be on the curve (its time constant). */
  horizonMs: number;
}

/**
 * Weight of a new observation in the demand estimate (an exponential moving average): a tick's
 * spend is a noisy sample of a Poisson process, and 0.3 settles within ~5 ticks of a real change
 * while halving the noise of single ticks.
 */
const DEMAND_ALPHA = 0.3;

/**
 * Below this throttle a tick's spend says too little about demand (it is divided by the throttle,
 * so its noise is multiplied by 20 or more): the estimate is kept instead.
 */
const MIN_OBSERVED_THROTTLE = 0.05;

/** Throttles are kept to 0.001: finer is below what sampling in an ad server can tell apart. */
export function quantize(throttle: number): number {
  return Math.round(Math.min(1, Math.max(0, throttle)) * 1000) / 1000;
}

/** One tick: the throttle to ask for now, and the memory for the next tick. */
export function pacingStep(prev: PacingMemory | undefined, input: PacingInput): PacingMemory {
  const demand = estimateDemand(prev, input);
  const throttle = quantize(desiredThrottle(input, demand));
  return { atMs: input.nowMs, day: input.day, spent: input.spent, throttle, demand };
}

function estimateDemand(prev: PacingMemory | undefined, input: PacingInput): number | null {
  if (prev === undefined) return null;
  const dt = input.nowMs - prev.atMs;
  // Another day's spend is no baseline for today's; a clock that did not move tells nothing.
  if (prev.day !== input.day || dt <= 0 || input.spent < prev.spent) return prev.demand;
  if (prev.throttle < MIN_OBSERVED_THROTTLE) return prev.demand;
  const observed = Number(input.spent - prev.spent) / dt / prev.throttle;
  return prev.demand === null ? observed : DEMAND_ALPHA * observed + (1 - DEMAND_ALPHA) * prev.demand;
}

function desiredThrottle(input: PacingInput, demand: number | null): number {
  if (input.spent >= input.limit) return 0;
  const aimAt = Math.min(input.nowMs + input.horizonMs, input.dayEndMs);
  // At the day's very end what is left may all be spent.
  if (aimAt <= input.nowMs) return 1;
  const wanted = input.targetAt(aimAt) - input.spent;
  if (wanted <= 0n) return 0;
  if (demand === null || demand <= 0) return 1;
  return Number(wanted) / (aimAt - input.nowMs) / demand;
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
