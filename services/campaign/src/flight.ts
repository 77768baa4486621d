import { FlightPhase, flightOfDates, flightPhase, type Flight } from "@adbudget/time";

/** The flight fields of a campaign as stored ("YYYY-MM-DD" in the brand's zone, or null). */
export interface FlightFields {
  startDate: string | null;
  endDate: string | null;
}

/** The stored dates as a @adbudget/time Flight. */
export function flightOf(c: FlightFields): Flight {
  return flightOfDates(c.startDate, c.endDate);
}

export function hasFlight(c: FlightFields): boolean {
  return c.startDate !== null || c.endDate !== null;
}

/** The phase of the campaign's flight at `instant` in the brand's zone. */
export function flightAt(c: FlightFields, brandZone: string, instant: number): FlightPhase {
  return hasFlight(c) ? flightPhase(instant, flightOf(c), brandZone) : FlightPhase.DURING;
}

/**
 * The audit cause of a clock write that moved the flight phase ("flight.start" when it began,
 * "flight.end" when it ended), or `fallback` when the phase did not move.
 */
export function flightCause(before: FlightPhase, after: FlightPhase, fallback: string): string {
  if (before === after) return fallback;
  if (after === FlightPhase.AFTER) return "flight.end";
  if (after === FlightPhase.DURING) return "flight.start";
  return fallback;
}
