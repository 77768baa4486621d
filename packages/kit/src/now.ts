import type { EnvReader } from "./config.js";

/**
 * Where a service takes "now" from: milliseconds since the epoch. Naming in this repository:
 * a time source is a `now` (this type); the `*ClockService` RPCs are the clock services, called
 * by "the clocks" (the Temporal workflows and their worker).
 */
export type Now = () => number;

/** About 400 days: enough to reach any month end or DST change of the coming year. */
export const MAX_CLOCK_OFFSET_MS = 400 * 86_400_000;

/**
 * Reads CLOCK_OFFSET_MS (default 0): a fixed shift of what every service and the clocks worker
 * believe is now, so the end-to-end test and the demo can reach a local midnight (and
 * a month end) in a minute instead of waiting hours for it. Every process of one system must
 * get the same value: spend periods, the 5-minute future check, daypart state and the reset
 * workflows' timers are then consistent with each other. Never set it in production.
 */
export function readClockOffset(reader: EnvReader): number {
  return reader.int("CLOCK_OFFSET_MS", 0, { min: -MAX_CLOCK_OFFSET_MS, max: MAX_CLOCK_OFFSET_MS });
}

/** The wall clock shifted by `offsetMs` (0 = the wall clock itself). */
export function shiftedNow(offsetMs: number): Now {
  return offsetMs === 0 ? Date.now : () => Date.now() + offsetMs;
}
