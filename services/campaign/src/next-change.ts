import { MAX_TIMESTAMP_MS } from "@adbudget/kit";
import { nextBoundary, nextFlightChange } from "@adbudget/time";
import { flightOf, hasFlight, type FlightFields } from "./flight.js";
import { scheduleZone, type StoredSchedule } from "./schedule.js";

/** The fields of a campaign its next clock-driven change depends on. */
export interface DaypartFields extends FlightFields {
  schedule: StoredSchedule | null;
  inDaypart: boolean;
  daypartAsOf: Date | null;
  nextChangeAt: Date | null;
}

/**
 * When the stored daypart or flight state next flips (Campaign.next_change_time): the earlier of
 * the schedule's next boundary and the flight's next instant (its start, or the first instant
 * after its end), or null when neither applies.
 *
 * Measured from the instant the state was computed for (`daypartAsOf`), not from "now": if the
 * clock is late, the answer is still the boundary the stored state ends at, so an ad server that
 * stops there itself is right to the millisecond, whatever the lateness of the clock's event.
 */
export function nextChangeOf(
  c: Pick<DaypartFields, "schedule" | "daypartAsOf" | "startDate" | "endDate">,
  brandZone: string,
  nowMs: number,
): Date | null {
  const from = c.daypartAsOf?.getTime() ?? nowMs;
  const daypart =
    c.schedule === null ? undefined : nextBoundary(from, c.schedule.windows, scheduleZone(c.schedule, brandZone));
  const flight = hasFlight(c) ? nextFlightChange(from, flightOf(c), brandZone) : undefined;
  const at = daypart === undefined ? flight : flight === undefined ? daypart : Math.min(daypart, flight);
  // An end date of 9999-12-31 ends at an instant a google.protobuf.Timestamp cannot carry: never, for clients.
  return at === undefined || at > MAX_TIMESTAMP_MS ? null : new Date(at);
}

/** Whether the fields next_change_time depends on are the same in both (no need to recompute). */
export function sameDaypartBasis(a: DaypartFields, b: DaypartFields): boolean {
  return (
    a.schedule === b.schedule &&
    a.inDaypart === b.inDaypart &&
    a.daypartAsOf?.getTime() === b.daypartAsOf?.getTime() &&
    a.startDate === b.startDate &&
    a.endDate === b.endDate
  );
}
