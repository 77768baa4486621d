import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  isInside,
  minuteOfWeek,
  nextBoundary,
  normalizeWindows,
  parseClock,
  weekdayOf,
  type DaypartWindow,
} from "./daypart.js";
import { instantOf, offsetAt, wallTime } from "./zone.js";
import { TRICKY_ZONES } from "./zones.test-support.js";

const at = (s: string) => Date.parse(s);
const w = (days: number[], start: string, end: string): DaypartWindow => ({
  days,
  start: parseClock(start, false)!,
  end: parseClock(end, true)!,
});

describe("parseClock", () => {
  it.each([
    ["00:00", false, 0],
    ["23:59", false, 1439],
    ["24:00", true, 1440],
    ["24:00", false, undefined],
    ["25:00", true, undefined],
    ["12:60", true, undefined],
    ["9:00", true, undefined],
  ])("%s (24:00 allowed: %s) -> %s", (s, allow, want) => expect(parseClock(s, allow)).toBe(want));
});

describe("normalizeWindows", () => {
  it.each<[string, DaypartWindow[], DaypartWindow[]]>([
    ["no windows", [], []],
    ["one window", [w([1], "09:00", "17:00")], [w([1], "09:00", "17:00")]],
    ["overlapping windows merge", [w([1], "09:00", "12:00"), w([1], "11:00", "14:00")], [w([1], "09:00", "14:00")]],
    ["adjacent windows merge", [w([1], "09:00", "12:00"), w([1], "12:00", "14:00")], [w([1], "09:00", "14:00")]],
    [
      "equal hours group over days",
      [w([3], "09:00", "17:00"), w([1], "09:00", "17:00")],
      [w([1, 3], "09:00", "17:00")],
    ],
    ["overnight stays one window", [w([5], "22:00", "02:00")], [w([5], "22:00", "02:00")]],
    [
      "evening + early morning merge into overnight",
      [w([1], "22:00", "24:00"), w([2], "00:00", "02:00")],
      [w([1], "22:00", "02:00")],
    ],
    ["Sunday -> Monday wrap", [w([7], "23:00", "24:00"), w([1], "00:00", "01:00")], [w([7], "23:00", "01:00")]],
    ["full days", [w([1, 2], "00:00", "24:00")], [w([1, 2], "00:00", "24:00")]],
    ["the whole week", [w([1, 2, 3, 4, 5, 6, 7], "00:00", "24:00")], [w([1, 2, 3, 4, 5, 6, 7], "00:00", "24:00")]],
    [
      "longer than a day is cut at midnights",
      [w([1], "22:00", "24:00"), w([2], "00:00", "24:00"), w([3], "00:00", "02:00")],
      [w([1], "22:00", "24:00"), w([2], "00:00", "24:00"), w([3], "00:00", "02:00")],
    ],
    ["duplicate days", [{ days: [2, 2], start: 60, end: 120 }], [w([2], "01:00", "02:00")]],
  ])("%s", (_name, input, want) => {
    expect(normalizeWindows(input)).toEqual(want);
  });

  const windowArb = fc
    .record({
      days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
      start: fc.integer({ min: 0, max: 1439 }),
      end: fc.integer({ min: 1, max: 1440 }),
    })
    .filter((x) => x.start !== x.end);
  const covered = (ws: DaypartWindow[]) => {
    const set = new Set<number>();
    for (const x of ws)
      for (const d of x.days) {
        const len = x.end > x.start ? x.end - x.start : 1440 - x.start + x.end;
        for (let m = 0; m < len; m++) set.add(((d - 1) * 1440 + x.start + m) % 10080);
      }
    return set;
  };

  it("keeps exactly the same minutes covered, and is idempotent", () => {
    fc.assert(
      fc.property(fc.array(windowArb, { maxLength: 6 }), (ws) => {
        const n = normalizeWindows(ws);
        expect(covered(n)).toEqual(covered(ws));
        expect(normalizeWindows(n)).toEqual(n);
        for (const x of n) expect(x.start).not.toBe(x.end);
      }),
      { numRuns: 300 },
    );
  });
});

describe("isInside and nextBoundary", () => {
  const ny = "America/New_York";
  it.each<[string, DaypartWindow[], string, string, boolean, string | undefined]>([
    [
      "weekday 9-17, Tuesday noon",
      [w([1, 2, 3, 4, 5], "09:00", "17:00")],
      ny,
      "2026-11-24T17:00:00Z",
      true,
      "2026-11-24T22:00:00Z",
    ],
    [
      "weekday 9-17, Friday evening -> Monday",
      [w([1, 2, 3, 4, 5], "09:00", "17:00")],
      ny,
      "2026-11-27T23:00:00Z",
      false,
      "2026-11-30T14:00:00Z",
    ],
    [
      "overnight Fri 22-02, Saturday 01:00",
      [w([5], "22:00", "02:00")],
      ny,
      "2026-11-28T06:00:00Z",
      true,
      "2026-11-28T07:00:00Z",
    ],
    ["Sunday -> Monday wrap", [w([7], "23:00", "01:00")], "UTC", "2026-11-30T00:30:00Z", true, "2026-11-30T01:00:00Z"],
    ["24:00 end", [w([6], "20:00", "24:00")], "UTC", "2026-11-28T23:59:00Z", true, "2026-11-29T00:00:00Z"],
    // Spring forward 2026-03-08: a window 02:00-04:00 starts at 03:00 EDT (first instant after the gap).
    [
      "spring forward start in the gap",
      [w([7], "02:30", "04:00")],
      ny,
      "2026-03-08T06:59:00Z",
      false,
      "2026-03-08T07:00:00Z",
    ],
    // Fall back 2026-11-01: 01:30 is the earlier (EDT) instant.
    [
      "fall back start at a repeated time",
      [w([7], "01:30", "03:00")],
      ny,
      "2026-11-01T05:00:00Z",
      false,
      "2026-11-01T05:30:00Z",
    ],
    [
      "Lord Howe half-hour DST",
      [w([7], "02:15", "03:00")],
      "Australia/Lord_Howe",
      "2026-10-03T15:00:00Z",
      false,
      "2026-10-03T15:30:00Z",
    ],
    [
      "Kathmandu +05:45",
      [w([1, 2, 3, 4, 5, 6, 7], "09:00", "10:00")],
      "Asia/Kathmandu",
      "2026-11-28T03:00:00Z",
      false,
      "2026-11-28T03:15:00Z",
    ],
    [
      "Chatham +13:45",
      [w([1, 2, 3, 4, 5, 6, 7], "00:00", "06:00")],
      "Pacific/Chatham",
      "2026-11-28T10:00:00Z",
      false,
      "2026-11-28T10:15:00Z",
    ],
    // Santiago: midnight of 2026-09-06 does not exist; a window from 00:00 starts at 01:00 -03.
    [
      "Santiago midnight gap",
      [w([7], "00:00", "02:00")],
      "America/Santiago",
      "2026-09-06T03:30:00Z",
      false,
      "2026-09-06T04:00:00Z",
    ],
    [
      "Havana midnight DST",
      [w([7], "00:00", "02:00")],
      "America/Havana",
      "2026-03-08T04:30:00Z",
      false,
      "2026-03-08T05:00:00Z",
    ],
    [
      "a window wholly inside the gap does not happen that day",
      [w([7], "00:00", "01:00")],
      "America/Havana",
      "2026-03-08T04:30:00Z",
      false,
      "2026-03-15T04:00:00Z",
    ],
    ["no windows: always", [], ny, "2026-11-28T12:00:00Z", true, undefined],
    ["whole week: always", [w([1, 2, 3, 4, 5, 6, 7], "00:00", "24:00")], ny, "2026-11-28T12:00:00Z", true, undefined],
    [
      "whole week as 24 h overnight windows: always",
      [w([1, 2, 3, 4, 5, 6, 7], "06:00", "06:00")],
      ny,
      "2026-03-08T06:30:00Z",
      true,
      undefined,
    ],
    [
      "a window on no day: never, and never changes",
      [{ days: [], start: 60, end: 120 }],
      ny,
      "2026-11-28T12:00:00Z",
      false,
      undefined,
    ],
    // A weekly window wholly inside a spring-forward gap: that week's occurrence does not happen,
    // the next one is two weeks away (beyond the first chunk of the search).
    [
      "New York Sunday 02:00-03:00, gap on 2025-03-09 -> 2025-03-16",
      [w([7], "02:00", "03:00")],
      ny,
      "2025-03-02T12:00:00Z",
      false,
      "2025-03-16T06:00:00Z",
    ],
    [
      "the same, asked just before the gap",
      [w([7], "02:00", "03:00")],
      ny,
      "2025-03-09T06:59:59Z",
      false,
      "2025-03-16T06:00:00Z",
    ],
    [
      "Berlin Sunday 02:15-02:45, gap on 2025-03-30 -> 2025-04-06",
      [w([7], "02:15", "02:45")],
      "Europe/Berlin",
      "2025-03-23T12:00:00Z",
      false,
      "2025-04-06T00:15:00Z",
    ],
    [
      "inside all week but Sunday 02:00-03:00: the gap swallows the only way out",
      [w([1, 2, 3, 4, 5, 6], "00:00", "24:00"), w([7], "00:00", "02:00"), w([7], "03:00", "24:00")],
      ny,
      "2025-03-02T12:00:00Z",
      true,
      "2025-03-16T06:00:00Z",
    ],
    // St. John's fell back at 00:01 (to 23:01 of the day before) until 2010: on 2005-10-30 the
    // clock reads Saturday again after Sunday began at 02:30Z. The Sunday window 00:00-01:00 runs
    // from the first 00:00 (02:30Z) to the only 01:00 (04:30Z), Saturday reading included.
    [
      "St. John's: fall back across midnight, before the window",
      [w([7], "00:00", "01:00")],
      "America/St_Johns",
      "2005-10-30T02:00:00Z",
      false,
      "2005-10-30T02:30:00Z",
    ],
    [
      "St. John's: fall back across midnight, clock back on Saturday",
      [w([7], "00:00", "01:00")],
      "America/St_Johns",
      "2005-10-30T03:00:00Z",
      true,
      "2005-10-30T04:30:00Z",
    ],
  ])("%s", (_name, windows, zone, t, inside, next) => {
    expect(isInside(at(t), windows, zone)).toBe(inside);
    const b = nextBoundary(at(t), windows, zone);
    expect(b === undefined ? undefined : new Date(b).toISOString()).toBe(
      next === undefined ? undefined : new Date(next).toISOString(),
    );
  });

  const zones = [...TRICKY_ZONES, "UTC"];
  const windowArb = fc
    .record({
      days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
      start: fc.integer({ min: 0, max: 95 }).map((q) => q * 15),
      end: fc.integer({ min: 1, max: 96 }).map((q) => q * 15),
    })
    .filter((x) => x.start !== x.end);
  const instant = fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 0, 1) });

  it("the next boundary is after the instant, the state is constant until it and flips there", () => {
    fc.assert(
      fc.property(
        fc.array(windowArb, { minLength: 1, maxLength: 3 }),
        fc.constantFrom(...zones),
        instant,
        (raw, zone, t) => {
          const ws = normalizeWindows(raw);
          const now = isInside(t, ws, zone);
          const b = nextBoundary(t, ws, zone);
          if (b === undefined) return;
          expect(b).toBeGreaterThan(t);
          expect(isInside(b, ws, zone)).toBe(!now);
          expect(isInside(b - 1, ws, zone)).toBe(now);
          // Constant in between, sampled.
          for (let k = 1; k < 8; k++) expect(isInside(t + Math.floor(((b - t) * k) / 8), ws, zone)).toBe(now);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("away from DST changes, inside iff the local minute of the week is covered", () => {
    fc.assert(
      fc.property(fc.array(windowArb, { minLength: 1, maxLength: 3 }), instant, (raw, t) => {
        const ws = normalizeWindows(raw);
        const m = minuteOfWeek(t, "UTC");
        const covered = ws.some((x) =>
          x.days.some((d) => {
            const len = x.end > x.start ? x.end - x.start : 1440 - x.start + x.end;
            const s = (d - 1) * 1440 + x.start;
            return (m - s + 10080) % 10080 < len;
          }),
        );
        expect(isInside(t, ws, "UTC")).toBe(covered);
      }),
      { numRuns: 300 },
    );
  });

  describe("nextBoundary properties over zones, years 1995-2040 and minute windows", () => {
    const zones = [
      "America/New_York",
      "Europe/Berlin",
      "America/Santiago",
      "America/Havana",
      "Asia/Kathmandu",
      "Australia/Lord_Howe",
      "Pacific/Chatham",
      "Asia/Tehran",
      "Africa/Casablanca",
      "UTC",
    ];
    // Half the clock times fall in 00:00-04:00, where most DST transitions are.
    const clock = (min: number, max: number) => fc.oneof(fc.integer({ min, max }), fc.integer({ min, max: 240 }));
    const windows = fc
      .array(
        fc.record({
          days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
          start: clock(0, 1439),
          end: clock(1, 1440),
        }),
        { minLength: 1, maxLength: 4 },
      )
      .map(normalizeWindows);
    // Half the instants fall in February-May or September-November, the months of most transitions.
    const instant = fc.oneof(
      fc.integer({ min: Date.UTC(1995, 0, 1), max: Date.UTC(2040, 11, 31) }),
      fc
        .record({
          year: fc.integer({ min: 1995, max: 2040 }),
          month: fc.constantFrom(2, 3, 4, 5, 9, 10, 11),
          ms: fc.integer({ min: 0, max: 31 * 86_400_000 - 1 }),
        })
        .map(({ year, month, ms }) => Date.UTC(year, month - 1, 1) + ms),
    );
    const wholeWeek = (ws: DaypartWindow[]) =>
      ws.length === 1 && ws[0].days.length === 7 && ws[0].start === 0 && ws[0].end === 1440;
    const fractions = fc.array(fc.integer({ min: 1, max: 999_999 }), { minLength: 5, maxLength: 5 });

    it("defined unless the schedule is constant; after the instant; the state flips there and is constant before", () => {
      fc.assert(
        fc.property(windows, fc.constantFrom(...zones), instant, fractions, (ws, zone, t, fs) => {
          const now = isInside(t, ws, zone);
          const r = nextBoundary(t, ws, zone);
          if (ws.length === 0 || wholeWeek(ws)) {
            expect(r).toBeUndefined();
            return;
          }
          // (c) Some but not all of the week: the state changes, even across DST gaps.
          expect(r).toBeDefined();
          // (a) After the instant, and the state is different there.
          expect(r!).toBeGreaterThan(t);
          expect(isInside(r!, ws, zone)).toBe(!now);
          // (b) Constant on (t, r): just after t, just before r, and sampled in between.
          expect(isInside(t + 1, ws, zone)).toBe(now);
          expect(isInside(r! - 1, ws, zone)).toBe(now);
          for (const f of fs) expect(isInside(t + Math.max(1, Math.floor(((r! - t) * f) / 1e6)), ws, zone)).toBe(now);
          // (d) A boundary is a wall-clock minute read by the rules of docs/design.md
          //     (Dayparting): on a whole minute, and the earliest instant that shows its wall
          //     time (so never the second reading of a repeated hour; a time skipped by a gap
          //     reads as the first instant after it).
          const wall = wallTime(r!, zone);
          expect(wall.second).toBe(0);
          expect(instantOf(wall, zone)).toBe(r);
        }),
        { numRuns: 1500 },
      );
    });

    /** The spring-forward gaps of `zone` in `year`: the first instant after each, and its offsets. */
    const gaps = new Map<string, { at: number; before: number; after: number }[]>();
    const gapsOf = (zone: string, year: number) => {
      const key = `${zone} ${year}`;
      let out = gaps.get(key);
      if (out !== undefined) return out;
      out = [];
      const day = 86_400_000;
      for (let t = Date.UTC(year, 0, 1); t < Date.UTC(year + 1, 0, 1); t += day) {
        const before = offsetAt(t, zone);
        const after = offsetAt(t + day, zone);
        if (after <= before) continue;
        let lo = t;
        let hi = t + day;
        while (hi - lo > 1000) {
          const mid = lo + Math.floor((hi - lo) / 2000) * 1000;
          if (offsetAt(mid, zone) === after) hi = mid;
          else lo = mid;
        }
        out.push({ at: hi, before, after });
      }
      gaps.set(key, out);
      return out;
    };

    it("a window, or the only way out of one, swallowed by a spring-forward gap: still a boundary", () => {
      const dstZones = zones.filter((z) => z !== "UTC" && z !== "Asia/Kathmandu");
      fc.assert(
        fc.property(
          fc.constantFrom(...dstZones),
          fc.integer({ min: 1995, max: 2040 }),
          fc.nat(),
          fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
          fc.double({ min: 0, max: 1, noNaN: true }),
          fc.boolean(),
          fc.integer({ min: 1, max: 14 * 86_400_000 }),
          fractions,
          (zone, year, pick, f1, f2, complement, before, fs) => {
            const all = gapsOf(zone, year);
            fc.pre(all.length > 0);
            const gap = all[pick % all.length];
            // The gap as wall minutes of one local day: [gapStart, gapEnd).
            const wallStart = new Date(gap.at + gap.before);
            const gapStart = wallStart.getUTCHours() * 60 + wallStart.getUTCMinutes();
            const gapEnd = gapStart + (gap.after - gap.before) / 60_000;
            fc.pre(gapEnd <= 1440 && Number.isInteger(gapEnd));
            const weekday = wallStart.getUTCDay() === 0 ? 7 : wallStart.getUTCDay();
            // A window wholly inside the gap, [start, end).
            const start = gapStart + Math.floor(f1 * (gapEnd - gapStart));
            const end = start + 1 + Math.floor(f2 * (gapEnd - start - 1));
            const raw: DaypartWindow[] = complement
              ? [
                  { days: [1, 2, 3, 4, 5, 6, 7].filter((d) => d !== weekday), start: 0, end: 1440 },
                  ...(start > 0 ? [{ days: [weekday], start: 0, end: start }] : []),
                  ...(end < 1440 ? [{ days: [weekday], start: end, end: 1440 }] : []),
                ]
              : [{ days: [weekday], start, end }];
            const ws = normalizeWindows(raw);
            const t = gap.at - before;
            const now = isInside(t, ws, zone);
            const r = nextBoundary(t, ws, zone);
            expect(r).toBeDefined();
            expect(r!).toBeGreaterThan(t);
            expect(isInside(r!, ws, zone)).toBe(!now);
            expect(isInside(r! - 1, ws, zone)).toBe(now);
            for (const f of fs) expect(isInside(t + Math.max(1, Math.floor(((r! - t) * f) / 1e6)), ws, zone)).toBe(now);
            // The swallowed occurrence is no boundary: the state goes on through the gap.
            expect(r).not.toBe(gap.at);
          },
        ),
        { numRuns: 300 },
      );
    });

    it("the whole week is always inside and has no boundary", () => {
      fc.assert(
        fc.property(fc.constantFrom(...zones), instant, fc.integer({ min: 0, max: 1439 }), (zone, t, start) => {
          // The whole week written as 24 h windows from any minute: normalized or not, constant.
          for (const ws of [
            [{ days: [1, 2, 3, 4, 5, 6, 7], start, end: start }],
            normalizeWindows([{ days: [1, 2, 3, 4, 5, 6, 7], start, end: start }]),
          ]) {
            expect(isInside(t, ws, zone)).toBe(true);
            expect(nextBoundary(t, ws, zone)).toBeUndefined();
          }
        }),
        { numRuns: 200 },
      );
    });
  });
});

describe("weekdayOf", () => {
  /** Sakamoto's method (proleptic Gregorian), ISO numbering: an oracle independent of Date. */
  const sakamoto = (y: number, m: number, d: number) => {
    const t = [0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4];
    if (m < 3) y -= 1;
    const js = (((y + Math.floor(y / 4) - Math.floor(y / 100) + Math.floor(y / 400) + t[m - 1] + d) % 7) + 7) % 7;
    return js === 0 ? 7 : js;
  };

  it.each([
    [{ year: 1, month: 1, day: 1 }, 1],
    [{ year: 49, month: 1, day: 1 }, 5],
    [{ year: 99, month: 12, day: 31 }, 4],
    [{ year: 100, month: 1, day: 1 }, 5],
    [{ year: 1949, month: 1, day: 1 }, 6],
    [{ year: 1969, month: 12, day: 31 }, 3],
    [{ year: 1970, month: 1, day: 1 }, 4],
    [{ year: 2026, month: 11, day: 29 }, 7],
  ])("%j -> %i", (d, want) => {
    expect(sakamoto(d.year, d.month, d.day)).toBe(want);
    expect(weekdayOf(d)).toBe(want);
  });

  it("agrees with Sakamoto's method for years 0-9999", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 9999 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 1, max: 28 }),
        (year, month, day) => {
          expect(weekdayOf({ year, month, day })).toBe(sakamoto(year, month, day));
        },
      ),
      { numRuns: 1000 },
    );
  });
});
