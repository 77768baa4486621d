import type { EnvReader } from "./config.js";

/** Milliseconds since the epoch: what a service or workflow takes as "now". */
export type Clock = () => number;

/** About 400 days: enough to reach any month end or DST change of the coming year. */
export const MAX_CLOCK_OFFSET_MS = 400 * 86_400_000;

/**
 * Reads CLOCK_OFFSET_MS (default 0): a fixed shift of what every service and the clocks worker
 * believe is now, so the end-to-end test and the demo can reach a brand's local midnight (and
 * a month end) in a minute instead of waiting hours for it. Every process of one system must
 * get the same value: spend periods, the 5-minute future check, daypart state and the reset
 * workflows' timers are then consistent with each other. Never set it in production.
 */
export function readClockOffset(reader: EnvReader): number {
  return reader.int("CLOCK_OFFSET_MS", 0, { min: -MAX_CLOCK_OFFSET_MS, max: MAX_CLOCK_OFFSET_MS });
}

/** The wall clock shifted by `offsetMs` (0 = the wall clock itself). */
export function offsetClock(offsetMs: number): Clock {
  return offsetMs === 0 ? Date.now : () => Date.now() + offsetMs;
}
