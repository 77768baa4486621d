import { addDays } from "./calendar.js";
import { instantOf, localDate, startOfDay, wallTime, type CalendarDate } from "./zone.js";

/**
 * Dayparting: weekly windows of local wall time, at minute granularity.
 *
 * A window starts on each of its `days` (ISO: 1 = Monday .. 7 = Sunday) at `start` minutes
 * after local midnight and ends `end` minutes after midnight, of the same day when end > start,
 * else of the next day (an overnight window). `end` may be 1440 ("24:00"). Wall times map to
 * instants by DESIGN.md's rules (instantOf): a time skipped by DST means the first instant after
 * the gap, a repeated one the earlier instant. So a window wholly inside a spring-forward gap
 * does not happen that day, and boundaries never fall inside a gap.
 */
export interface DaypartWindow {
  days: number[];
  /** Minutes after local midnight, 0..1439. */
  start: number;
  /** Minutes after local midnight, 1..1440; <= start means the next day. */
  end: number;
}

export const MINUTES_PER_DAY = 1440;
const WEEK = 7 * MINUTES_PER_DAY;

/** "HH:MM" -> minutes; "24:00" allowed when `allow2400`. Undefined when malformed. */
export function parseClock(s: string, allow2400: boolean): number | undefined {
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  if (m === null) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59) return undefined;
  if (h === 24 && min === 0 && allow2400) return MINUTES_PER_DAY;
  if (h > 23) return undefined;
  return h * 60 + min;
}

export function formatClock(minutes: number): string {
  return `${String(Math.floor(minutes / 60)).padStart(2, "0")}:${String(minutes % 60).padStart(2, "0")}`;
}

/** Minutes a window lasts: end > start within the day, else across midnight. */
function lengthOf(w: { start: number; end: number }): number {
  return w.end > w.start ? w.end - w.start : MINUTES_PER_DAY - w.start + w.end;
}

/**
 * The canonical form of a set of windows: overlapping and adjacent windows merged (also across
 * midnight and the Sunday -> Monday wrap), then cut into windows of at most one day that start
 * and end on the minute, windows with the same hours grouped over their days. Equal coverage
 * gives equal output, so a normalized schedule can be compared and stored as is.
 */
export function normalizeWindows(windows: readonly DaypartWindow[]): DaypartWindow[] {
  // 1. Intervals on the week circle [0, WEEK), in minutes from Monday 00:00.
  const raw: [number, number][] = [];
  for (const w of windows) {
    for (const d of new Set(w.days)) {
      const s = (d - 1) * MINUTES_PER_DAY + w.start;
      const e = s + lengthOf(w);
      if (e <= WEEK) raw.push([s, e]);
      else raw.push([s, WEEK], [0, e - WEEK]);
    }
  }
  if (raw.length === 0) return [];
  raw.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [s, e] of raw) {
    const last = merged.at(-1);
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  // 2. The whole week.
  if (merged.length === 1 && merged[0]![0] === 0 && merged[0]![1] === WEEK) {
    return [{ days: [1, 2, 3, 4, 5, 6, 7], start: 0, end: MINUTES_PER_DAY }];
  }
  // 3. Join across the Sunday -> Monday wrap.
  if (merged.length > 1 && merged[0]![0] === 0 && merged.at(-1)![1] === WEEK) {
    const first = merged.shift()!;
    merged.at(-1)![1] = WEEK + first[1];
  }
  // 4. Cut into pieces of at most a day: an interval of up to 24 h stays whole (overnight);
  //    a longer one is cut at each midnight.
  const pieces: { day: number; start: number; end: number }[] = [];
  const add = (s: number, e: number) => {
    const day = (Math.floor(s / MINUTES_PER_DAY) % 7) + 1;
    const start = s % MINUTES_PER_DAY;
    const len = e - s;
    const end = start + len === MINUTES_PER_DAY ? MINUTES_PER_DAY : (start + len) % MINUTES_PER_DAY;
    pieces.push({ day, start, end });
  };
  for (const [s, e] of merged) {
    if (e - s < MINUTES_PER_DAY || (e - s === MINUTES_PER_DAY && s % MINUTES_PER_DAY === 0)) {
      add(s, e);
      continue;
    }
    let cursor = s;
    while (cursor < e) {
      const midnight = (Math.floor(cursor / MINUTES_PER_DAY) + 1) * MINUTES_PER_DAY;
      const to = Math.min(e, midnight);
      add(cursor, to);
      cursor = to;
    }
  }
  // 5. Group equal hours over days.
  const groups = new Map<string, DaypartWindow>();
  for (const p of pieces) {
    const key = `${p.start}-${p.end}`;
    const g = groups.get(key) ?? { days: [], start: p.start, end: p.end };
    if (!g.days.includes(p.day)) g.days.push(p.day);
    groups.set(key, g);
  }
  const out = [...groups.values()];
  for (const g of out) g.days.sort((a, b) => a - b);
  return out.sort((a, b) => a.days[0]! - b.days[0]! || a.start - b.start || a.end - b.end);
}

/** ISO weekday (1 = Monday) of a calendar date. */
export function weekdayOf(d: CalendarDate): number {
  const js = new Date(Date.UTC(d.year, d.month - 1, d.day)).getUTCDay();
  return js === 0 ? 7 : js;
}

/** The instants of every window occurrence that starts on local date `d`. */
function occurrences(windows: readonly DaypartWindow[], d: CalendarDate, zone: string): [number, number][] {
  const out: [number, number][] = [];
  const weekday = weekdayOf(d);
  for (const w of windows) {
    if (!w.days.includes(weekday)) continue;
    const from = instantOf({ ...d, hour: Math.floor(w.start / 60), minute: w.start % 60 }, zone);
    const endDay = w.end > w.start ? d : addDays(d, 1);
    const to =
      w.end === MINUTES_PER_DAY
        ? startOfDay(addDays(d, 1), zone)
        : instantOf({ ...endDay, hour: Math.floor(w.end / 60), minute: w.end % 60 }, zone);
    if (to > from) out.push([from, to]);
  }
  return out;
}

/**
 * Whether `instant` is inside the schedule. No windows means no dayparting: always inside.
 */
export function isInside(instant: number, windows: readonly DaypartWindow[], zone: string): boolean {
  if (windows.length === 0) return true;
  const today = localDate(instant, zone);
  for (const d of [addDays(today, -1), today]) {
    for (const [from, to] of occurrences(windows, d, zone)) {
      if (instant >= from && instant < to) return true;
    }
  }
  return false;
}

/**
 * The first instant after `instant` at which isInside changes, or undefined when it never does
 * (no windows, or windows covering the whole week). The state is constant in between.
 */
export function nextBoundary(instant: number, windows: readonly DaypartWindow[], zone: string): number | undefined {
  if (windows.length === 0) return undefined;
  const today = localDate(instant, zone);
  const candidates = new Set<number>();
  for (let i = -1; i <= 8; i++) {
    for (const [from, to] of occurrences(windows, addDays(today, i), zone)) {
      if (from > instant) candidates.add(from);
      if (to > instant) candidates.add(to);
    }
  }
  const now = isInside(instant, windows, zone);
  for (const c of [...candidates].sort((a, b) => a - b)) {
    if (isInside(c, windows, zone) !== now) return c;
  }
  return undefined;
}

/** The local wall time's minute of the week (0 = Monday 00:00), for diagnostics and tests. */
export function minuteOfWeek(instant: number, zone: string): number {
  const w = wallTime(instant, zone);
  return (w.weekday - 1) * MINUTES_PER_DAY + w.hour * 60 + w.minute;
}
