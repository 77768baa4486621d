import { addDays } from "./calendar.js";
import { instantOf, localDate, startOfDay, utcMs, wallTime, type CalendarDate } from "./zone.js";

/**
 * Dayparting: weekly windows of local wall time, at minute granularity.
 *
 * A window starts on each of its `days` (ISO: 1 = Monday .. 7 = Sunday) at `start` minutes
 * after local midnight and ends `end` minutes after midnight, of the same day when end > start,
 * else of the next day (an overnight window). `end` may be 1440 ("24:00"). Wall times map to
 * instants by the rules of docs/design.md, Dayparting (instantOf): a time skipped by DST means
 * the first instant after the gap, a repeated one the earlier instant. So a window wholly inside
 * a spring-forward gap does not happen that day, and boundaries never fall inside a gap.
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
 * The minutes the windows cover, as intervals of [0, WEEK) in minutes from Monday 00:00: sorted,
 * overlapping and adjacent ones merged, not joined across the Sunday -> Monday wrap (so the whole
 * week is the single interval [0, WEEK)). Days other than 1..7 are dropped: no date has them, so
 * isInside never matches them either.
 */
function weekIntervals(windows: readonly DaypartWindow[]): [number, number][] {
  const raw: [number, number][] = [];
  for (const w of windows) {
    for (const d of new Set(w.days)) {
      if (!Number.isInteger(d) || d < 1 || d > 7) continue;
      const s = (d - 1) * MINUTES_PER_DAY + w.start;
      const e = s + lengthOf(w);
      if (e <= WEEK) raw.push([s, e]);
      else raw.push([s, WEEK], [0, e - WEEK]);
    }
  }
  raw.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const merged: [number, number][] = [];
  for (const [s, e] of raw) {
    const last = merged.at(-1);
    if (last !== undefined && s <= last[1]) last[1] = Math.max(last[1], e);
    else merged.push([s, e]);
  }
  return merged;
}

function isWholeWeek(merged: readonly [number, number][]): boolean {
  return merged.length === 1 && merged[0][0] === 0 && merged[0][1] === WEEK;
}

/**
 * The canonical form of a set of windows: overlapping and adjacent windows merged (also across
 * midnight and the Sunday -> Monday wrap), then cut into windows of at most one day that start
 * and end on the minute, windows with the same hours grouped over their days. Equal coverage
 * gives equal output, so a normalized schedule can be compared and stored as is.
 */
export function normalizeWindows(windows: readonly DaypartWindow[]): DaypartWindow[] {
  // 1. Intervals on the week circle.
  const merged = weekIntervals(windows);
  if (merged.length === 0) return [];
  // 2. The whole week.
  if (isWholeWeek(merged)) return [{ days: [1, 2, 3, 4, 5, 6, 7], start: 0, end: MINUTES_PER_DAY }];
  // 3. Join across the Sunday -> Monday wrap.
  const head = merged[0];
  const tail = merged.at(-1);
  if (merged.length > 1 && head[0] === 0 && tail !== undefined && tail[1] === WEEK) {
    merged.shift();
    tail[1] = WEEK + head[1];
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
  return out.sort((a, b) => a.days[0] - b.days[0] || a.start - b.start || a.end - b.end);
}

/** ISO weekday (1 = Monday) of a calendar date. */
export function weekdayOf(d: CalendarDate): number {
  const js = new Date(utcMs(d.year, d.month, d.day)).getUTCDay();
  return js === 0 ? 7 : js;
}

/**
 * The instants of every window occurrence that starts on local date `d`, each [from, to), empty
 * ones (a window wholly inside a DST gap) left out.
 *
 * An occurrence lies within [startOfDay(d), startOfDay(d + 2)): instantOf never goes back when
 * the wall time goes forward, `from` is a wall time of `d` and `to` one of `d + 1` at most. So an
 * instant can be held only by occurrences of its local date, of the day before, and of any later
 * day whose first instant it has reached (see isInside).
 */
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
 * Whether `instant` is inside the schedule: inside some occurrence of a window. No windows means
 * no dayparting: always inside.
 *
 * The candidates are the occurrences of yesterday and today (local dates), and of tomorrow only
 * when `instant` is at or after tomorrow's first instant: where a fall back crosses midnight, the
 * clock reads yesterday's date again after the new day began (St. John's fell back from 00:01 to
 * 23:01 until 2010), and the new day's occurrences already run. So the answer is membership in
 * the union of all occurrences, the set nextBoundary walks.
 */
export function isInside(instant: number, windows: readonly DaypartWindow[], zone: string): boolean {
  if (windows.length === 0) return true;
  const holds = (d: CalendarDate) =>
    occurrences(windows, d, zone).some(([from, to]) => instant >= from && instant < to);
  const today = localDate(instant, zone);
  if (holds(addDays(today, -1)) || holds(today)) return true;
  for (let d = addDays(today, 1); startOfDay(d, zone) <= instant; d = addDays(d, 1)) if (holds(d)) return true;
  return false;
}

/**
 * Days of occurrences nextBoundary gathers per step: yesterday to tomorrow first (most boundaries
 * are that close: windows are at most a day long), then a week at a time, so that a step meets
 * every window.
 */
const FIRST_STEP_DAYS = 3;
const STEP_DAYS = 7;

/**
 * How far nextBoundary searches, in days: two years. A schedule that covers some but not all of
 * the week changes state within a week of any instant, unless a DST gap swallows the change; a
 * gap swallows wall times of one day per transition, and zones change offset a few times a year
 * at most (twice more in Ramadan in Casablanca), so a real boundary is a few weeks away at most.
 * The cap only bounds the loop, in workflow code that must not spin, should zone data ever be
 * pathological; past it no boundary is reported, as for a constant schedule.
 */
const HORIZON_DAYS = 731;

/**
 * The first instant after `instant` at which isInside changes, or undefined when it never does:
 * no windows, windows on no day, or windows covering the whole week (consecutive occurrences
 * meet at one wall time, which maps to one instant, gap or not), or nothing within the search
 * horizon (HORIZON_DAYS). The state is constant in between.
 *
 * Not limited to the next few days: a weekly window swallowed by a DST gap does not happen that
 * week, and a caller that sleeps until the boundary (the daypart workflow) must still get one.
 * The search gathers occurrences from yesterday on, a few days and then a week at a time, and
 * reads the answer off their union, which is what isInside tests, without calling isInside:
 * sorted by start, the state at `instant` is whether a span holds it, and the change is where the
 * chain of overlapping spans from it ends (inside) or where the first later span starts (outside).
 */
export function nextBoundary(instant: number, windows: readonly DaypartWindow[], zone: string): number | undefined {
  const week = weekIntervals(windows);
  if (week.length === 0 || isWholeWeek(week)) return undefined;
  // Occurrences of days before yesterday end before today began: they hold nothing from `instant` on.
  let day = addDays(localDate(instant, zone), -1);
  const spans: [number, number][] = [];
  for (let gathered = 0, step = FIRST_STEP_DAYS; gathered < HORIZON_DAYS; gathered += step, step = STEP_DAYS) {
    for (let i = 0; i < step; i++, day = addDays(day, 1)) {
      for (const span of occurrences(windows, day, zone)) if (span[1] > instant) spans.push(span);
    }
    // Occurrences not gathered yet (of `day` on) start at or after its first instant: before
    // there, the union is final.
    const change = firstChange(instant, spans, startOfDay(day, zone));
    if (change !== undefined) return change;
  }
  return undefined;
}

/**
 * The first instant after `instant` where membership in the union of `spans` (all ending after
 * `instant`) changes, if spans starting at or after `settled` cannot move it; else undefined.
 * Sorts `spans`.
 */
function firstChange(instant: number, spans: [number, number][], settled: number): number | undefined {
  spans.sort((a, b) => a[0] - b[0]);
  let i = 0;
  let reach = instant;
  for (; i < spans.length && spans[i][0] <= instant; i++) reach = Math.max(reach, spans[i][1]);
  if (reach > instant) {
    // Inside: follow the spans that overlap or touch the covered stretch; a span starting at
    // `settled` could still extend it.
    for (; i < spans.length && spans[i][0] <= reach; i++) reach = Math.max(reach, spans[i][1]);
    return reach < settled ? reach : undefined;
  }
  // Outside: the first start after `instant`.
  return i < spans.length && spans[i][0] <= settled ? spans[i][0] : undefined;
}

/** The local wall time's minute of the week (0 = Monday 00:00), for diagnostics and tests. */
export function minuteOfWeek(instant: number, zone: string): number {
  const w = wallTime(instant, zone);
  return (w.weekday - 1) * MINUTES_PER_DAY + w.hour * 60 + w.minute;
}
