import { addDays, parseDate } from "./calendar.js";
import { type CalendarDate, startOfDay } from "./zone.js";

/**
 * A campaign's flight: its first and last local day (either may be absent = open-ended). The
 * days are calendar days of the brand's zone, so the instants they start and end at move with
 * the zone's daylight saving like a budget day does.
 */
export interface Flight {
  start?: CalendarDate;
  end?: CalendarDate;
}

/** A flight from its dates as "YYYY-MM-DD" strings (null or undefined = open-ended). */
export function flightOfDates(start: string | null | undefined, end: string | null | undefined): Flight {
  return {
    ...(start == null ? {} : { start: parseDate(start) }),
    ...(end == null ? {} : { end: parseDate(end) }),
  };
}

/** Where an instant lies relative to a flight. */
export enum FlightPhase {
  /** Inside the flight (or no flight dates). */
  DURING = 0,
  /** Before the first instant of the start date. */
  BEFORE = 1,
  /** At or after the first instant of the day after the end date. */
  AFTER = 2,
}

/**
 * The instants the flight starts and ends at: the first instant of the start date, and the first
 * instant of the day after the end date (a midnight, or the end of a DST gap that swallows it, as
 * for budget days). Absent when the date is absent.
 */
export function flightInstants(flight: Flight, zone: string): { startsAt?: number; endsAt?: number } {
  return {
    ...(flight.start === undefined ? {} : { startsAt: startOfDay(flight.start, zone) }),
    ...(flight.end === undefined ? {} : { endsAt: startOfDay(addDays(flight.end, 1), zone) }),
  };
}

/**
 * The phase of the flight at `instant`. An end before the start (refused by the API, but
 * possible in data) is an empty flight: BEFORE until the start, then AFTER.
 */
export function flightPhase(instant: number, flight: Flight, zone: string): FlightPhase {
  const { startsAt, endsAt } = flightInstants(flight, zone);
  if (endsAt !== undefined && instant >= endsAt && (startsAt === undefined || instant >= startsAt))
    return FlightPhase.AFTER;
  if (startsAt !== undefined && instant < startsAt) return FlightPhase.BEFORE;
  if (endsAt !== undefined && instant >= endsAt) return FlightPhase.AFTER;
  return FlightPhase.DURING;
}

/** The next instant after `instant` at which the phase changes; undefined when it never does. */
export function nextFlightChange(instant: number, flight: Flight, zone: string): number | undefined {
  const { startsAt, endsAt } = flightInstants(flight, zone);
  const ahead = [startsAt, endsAt].filter((t): t is number => t !== undefined && t > instant);
  for (const t of ahead.sort((a, b) => a - b)) {
    if (flightPhase(t, flight, zone) !== flightPhase(instant, flight, zone)) return t;
  }
  return undefined;
}
