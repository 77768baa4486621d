/**
 * Instants and wall-clock times in IANA zones, with the DST rules of docs/design.md
 * (Dayparting). Pure: the only source of zone rules is the ICU data of the runtime (Intl), and
 * the only clock is the argument.
 *
 * Instants are epoch milliseconds (number): exact to the millisecond and cheap in hot paths
 * (every spend event is attributed to a local day) and in Temporal workflow code.
 */

/** A local calendar date. `month` is 1-12. */
export interface CalendarDate {
  readonly year: number;
  readonly month: number;
  readonly day: number;
}

/** A local wall-clock time. */
export interface WallTime extends CalendarDate {
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** ISO weekday: 1 = Monday ... 7 = Sunday. */
  readonly weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
      weekday: "short",
      era: "short",
    });
    formatters.set(zone, f);
  }
  return f;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** True when `zone` is a time zone the runtime knows. */
export function isValidZone(zone: string): boolean {
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The wall-clock time at `instant` in `zone`. */
export function wallTime(instant: number, zone: string): WallTime {
  const out = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, weekday: 0 };
  let bc = false;
  for (const p of formatter(zone).formatToParts(instant)) {
    switch (p.type) {
      case "year":
        out.year = Number(p.value);
        break;
      case "month":
        out.month = Number(p.value);
        break;
      case "day":
        out.day = Number(p.value);
        break;
      case "hour":
        out.hour = Number(p.value);
        break;
      case "minute":
        out.minute = Number(p.value);
        break;
      case "second":
        out.second = Number(p.value);
        break;
      case "weekday":
        out.weekday = WEEKDAYS[p.value] ?? 0;
        break;
      case "era":
        bc = p.value === "BC" || p.value === "B";
        break;
    }
  }
  if (bc) out.year = 1 - out.year;
  return out;
}

/** The local calendar date of `instant` in `zone`. */
export function localDate(instant: number, zone: string): CalendarDate {
  const { year, month, day } = wallTime(instant, zone);
  return { year, month, day };
}

/**
 * Epoch milliseconds of a proleptic Gregorian date and time read as UTC; `month` is 1-12, and
 * fields past their range carry over (day 0 is the last day of the month before, hour 24 the next
 * day). Every CalendarDate/WallTime -> milliseconds conversion goes through here, never through
 * Date.UTC directly: Date.UTC (and the Date constructor) read years 0-99 as 1900-1999, which put
 * year 49 in 1949 and let the day memo of periodsOf cache a 1949 span as year 49.
 * setUTCFullYear has no such rule; Date.UTC stays the fast path for every other year.
 */
export function utcMs(year: number, month: number, day: number, hour = 0, minute = 0, second = 0): number {
  if (year >= 0 && year < 100) {
    const t = new Date(0);
    t.setUTCFullYear(year, month - 1, day);
    return t.setUTCHours(hour, minute, second, 0);
  }
  return Date.UTC(year, month - 1, day, hour, minute, second);
}

/** UTC offset of `zone` at `instant`, in milliseconds (east positive). */
export function offsetAt(instant: number, zone: string): number {
  const w = wallTime(instant, zone);
  return utcMs(w.year, w.month, w.day, w.hour, w.minute, w.second) - (instant - mod(instant, 1000));
}

function mod(a: number, b: number): number {
  return ((a % b) + b) % b;
}

/** Milliseconds of a wall time read as if it were UTC (the "local epoch"). */
export function wallToUtcMs(
  w: Omit<CalendarDate, never> & { hour?: number; minute?: number; second?: number },
): number {
  return utcMs(w.year, w.month, w.day, w.hour ?? 0, w.minute ?? 0, w.second ?? 0);
}

const DAY_MS = 86_400_000;

/**
 * The instant a local wall time means in `zone`, by the rules of docs/design.md (Dayparting): a
 * time that does not exist (spring forward) means the first instant after the gap; a time that
 * exists twice (fall back) means the earlier one.
 */
export function instantOf(
  wall: { year: number; month: number; day: number; hour?: number; minute?: number; second?: number },
  zone: string,
): number {
  const local = wallToUtcMs(wall);
  // Transitions are rare and far apart: the offsets a day before and a day after bracket any
  // transition near this wall time.
  const before = offsetAt(local - DAY_MS, zone);
  const after = offsetAt(local + DAY_MS, zone);
  const candidates = [...new Set([before, after])]
    .map((o) => local - o)
    .filter((t) => offsetAt(t, zone) === local - t)
    .sort((a, b) => a - b);
  if (candidates.length > 0) return candidates[0];
  // In a gap: the wall time was skipped. The first instant after the gap is the transition,
  // between the two readings; find it by bisection on whole seconds.
  let lo = local - after; // still before the transition (old offset applies)
  let hi = local - before; // after the transition
  if (lo > hi) [lo, hi] = [hi, lo];
  while (hi - lo > 1000) {
    const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
    if (offsetAt(mid, zone) === after) hi = mid;
    else lo = mid;
  }
  return hi;
}

/** The first instant of the local day `date` in `zone` (its midnight, or the end of a gap there). */
export function startOfDay(date: CalendarDate, zone: string): number {
  return instantOf({ ...date, hour: 0, minute: 0, second: 0 }, zone);
}
