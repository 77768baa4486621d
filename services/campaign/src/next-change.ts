import { nextBoundary } from "@adbudget/time";
import { scheduleZone, type StoredSchedule } from "./schedule.js";

/** The fields of a campaign its next daypart change depends on. */
export interface DaypartFields {
  schedule: StoredSchedule | null;
  inDaypart: boolean;
  daypartAsOf: Date | null;
  nextChangeAt: Date | null;
}

/**
 * When the stored daypart state next flips (Campaign.next_change_time), or null without a
 * schedule (or with one that never changes, such as every day 00:00-24:00).
 *
 * Measured from the instant the state was computed for (`daypartAsOf`), not from "now": if the
 * clock is late, the answer is still the boundary the stored state ends at, so an ad server that
 * stops there itself is right to the millisecond, whatever the lateness of the clock's event.
 */
export function nextChangeOf(c: Pick<DaypartFields, "schedule" | "daypartAsOf">, brandZone: string, nowMs: number): Date | null {
  if (c.schedule === null) return null;
  const at = nextBoundary(c.daypartAsOf?.getTime() ?? nowMs, c.schedule.windows, scheduleZone(c.schedule, brandZone));
  return at === undefined ? null : new Date(at);
}

/** Whether the fields next_change_time depends on are the same in both (no need to recompute). */
export function sameDaypartBasis(a: DaypartFields, b: DaypartFields): boolean {
  return a.schedule === b.schedule && a.inDaypart === b.inDaypart && a.daypartAsOf?.getTime() === b.daypartAsOf?.getTime();
}
