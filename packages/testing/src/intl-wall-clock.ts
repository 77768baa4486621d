/**
 * The local calendar read straight from Intl, for tests to hold @adbudget/time against: an
 * oracle that shares no code with it. It reads Intl's Swedish short format ("2026-03-29 02:30",
 * ISO order, 24-hour clock) rather than formatToParts with explicit fields, as production does,
 * so the two do not even share the formatter's options; the weekday is computed from the date.
 */

/** What a wall clock in `zone` shows at `instant`. */
export interface IntlWallClock {
  /** Local date, "YYYY-MM-DD". */
  date: string;
  /** Local time, "HH:MM". */
  time: string;
  /** Minutes since local midnight, 0..1439. */
  minute: number;
  /** ISO weekday of `date`: 1 = Monday ... 7 = Sunday. */
  weekday: number;
}

/** One formatter per zone: building one costs far more than formatting with it. */
const formatters = new Map<string, Intl.DateTimeFormat>();

export function intlWallClock(instant: number, zone: string): IntlWallClock {
  let f = formatters.get(zone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat("sv-SE", { timeZone: zone, dateStyle: "short", timeStyle: "short" });
    formatters.set(zone, f);
  }
  const shown = f.format(instant);
  if (!/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$/.test(shown))
    throw new Error(`Intl showed ${JSON.stringify(shown)} for ${instant} in ${zone}`);
  const at = (from: number, to: number) => Number(shown.slice(from, to));
  // getUTCDay: 0 = Sunday, which ISO numbers 7.
  const weekday = new Date(Date.UTC(at(0, 4), at(5, 7) - 1, at(8, 10))).getUTCDay() || 7;
  return { date: shown.slice(0, 10), time: shown.slice(11), minute: at(11, 13) * 60 + at(14, 16), weekday };
}
