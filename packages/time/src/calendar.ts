import { type CalendarDate, localDate, startOfDay, utcMs } from "./zone.js";

/** "YYYY-MM-DD". */
export function formatDate(d: CalendarDate): string {
  return `${String(d.year).padStart(4, "0")}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}`;
}

/** Parses "YYYY-MM-DD" (as PostgreSQL `date` prints it). */
export function parseDate(s: string): CalendarDate {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (m === null) throw new Error(`not a date: ${JSON.stringify(s)}`);
  return { year: Number(m[1]), month: Number(m[2]), day: Number(m[3]) };
}

/** The first day of the month of `d`. */
export function monthStart(d: CalendarDate): CalendarDate {
  return { year: d.year, month: d.month, day: 1 };
}

/** `d` plus `days` calendar days (proleptic Gregorian). */
export function addDays(d: CalendarDate, days: number): CalendarDate {
  const t = new Date(utcMs(d.year, d.month, d.day + days));
  return { year: t.getUTCFullYear(), month: t.getUTCMonth() + 1, day: t.getUTCDate() };
}

/** Whether `year` has a February 29th (proleptic Gregorian). */
export function isLeapYear(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in `month` (1-12) of `year`: 28 to 31. */
export function daysInMonth(year: number, month: number): number {
  const days = Number.isInteger(month) ? DAYS_IN_MONTH[month - 1] : undefined;
  if (days === undefined) throw new RangeError(`not a month: ${month}`);
  return month === 2 && isLeapYear(year) ? 29 : days;
}

/** The first day of the month after the month of `d`. */
export function nextMonthStart(d: CalendarDate): CalendarDate {
  return d.month === 12 ? { year: d.year + 1, month: 1, day: 1 } : { year: d.year, month: d.month + 1, day: 1 };
}

interface DaySpan {
  from: number;
  to: number;
  day: CalendarDate;
  month: CalendarDate;
}

/** Per zone, the local days met last: most instants of a hot path fall in one of them. */
const recentDays = new Map<string, DaySpan[]>();

/**
 * The local day and month (its 1st) that contain `instant` in `zone`: a spend's periods.
 *
 * Memoized per zone by day span [first instant of the day, first instant of the next): the
 * spend hot path attributes thousands of events per second to the same few days, and one Intl
 * lookup costs microseconds. The result is the same with or without the memo.
 */
export function periodsOf(instant: number, zone: string): { day: CalendarDate; month: CalendarDate } {
  const spans = recentDays.get(zone);
  if (spans !== undefined) {
    for (const s of spans) if (instant >= s.from && instant < s.to) return s;
  }
  const day = localDate(instant, zone);
  const span: DaySpan = {
    from: startOfDay(day, zone),
    to: nextDayStart(instant, zone).at,
    day,
    month: monthStart(day),
  };
  const list = spans ?? [];
  list.unshift(span);
  if (list.length > 4) list.pop();
  recentDays.set(zone, list);
  return span;
}

/**
 * The next local day boundary strictly after `instant` in `zone`: the first instant of the next
 * local day (midnight, or the end of a DST gap that swallowed midnight), and whether a new month
 * starts there too.
 */
export function nextDayStart(instant: number, zone: string): { at: number; day: CalendarDate; newMonth: boolean } {
  let day = addDays(localDate(instant, zone), 1);
  let at = startOfDay(day, zone);
  // A fall-back transition at midnight can make "tomorrow's" first instant come before a late
  // instant of today in wall terms; step forward until strictly after.
  while (at <= instant) {
    day = addDays(day, 1);
    at = startOfDay(day, zone);
  }
  // A date the zone skipped whole (Pacific/Apia went from 2011-12-29 to 2011-12-31 when it
  // crossed the date line) starts nowhere: its "first instant" is the next date's. The boundary
  // belongs to the date it opens.
  day = localDate(at, zone);
  return { at, day, newMonth: day.day === 1 };
}
