import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isInside, minuteOfWeek, nextBoundary, normalizeWindows, parseClock, type DaypartWindow } from "./daypart.js";

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
    ["equal hours group over days", [w([3], "09:00", "17:00"), w([1], "09:00", "17:00")], [w([1, 3], "09:00", "17:00")]],
    ["overnight stays one window", [w([5], "22:00", "02:00")], [w([5], "22:00", "02:00")]],
    ["evening + early morning merge into overnight", [w([1], "22:00", "24:00"), w([2], "00:00", "02:00")], [w([1], "22:00", "02:00")]],
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

  const windowArb = fc.record({
    days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
    start: fc.integer({ min: 0, max: 1439 }),
    end: fc.integer({ min: 1, max: 1440 }),
  }).filter((x) => x.start !== x.end);
  const covered = (ws: DaypartWindow[]) => {
    const set = new Set<number>();
    for (const x of ws) for (const d of x.days) {
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
    ["weekday 9-17, Tuesday noon", [w([1, 2, 3, 4, 5], "09:00", "17:00")], ny, "2026-11-24T17:00:00Z", true, "2026-11-24T22:00:00Z"],
    ["weekday 9-17, Friday evening -> Monday", [w([1, 2, 3, 4, 5], "09:00", "17:00")], ny, "2026-11-27T23:00:00Z", false, "2026-11-30T14:00:00Z"],
    ["overnight Fri 22-02, Saturday 01:00", [w([5], "22:00", "02:00")], ny, "2026-11-28T06:00:00Z", true, "2026-11-28T07:00:00Z"],
    ["Sunday -> Monday wrap", [w([7], "23:00", "01:00")], "UTC", "2026-11-30T00:30:00Z", true, "2026-11-30T01:00:00Z"],
    ["24:00 end", [w([6], "20:00", "24:00")], "UTC", "2026-11-28T23:59:00Z", true, "2026-11-29T00:00:00Z"],
    // Spring forward 2026-03-08: a window 02:00-04:00 starts at 03:00 EDT (first instant after the gap).
    ["spring forward start in the gap", [w([7], "02:30", "04:00")], ny, "2026-03-08T06:59:00Z", false, "2026-03-08T07:00:00Z"],
    // Fall back 2026-11-01: 01:30 is the earlier (EDT) instant.
    ["fall back start at a repeated time", [w([7], "01:30", "03:00")], ny, "2026-11-01T05:00:00Z", false, "2026-11-01T05:30:00Z"],
    ["Lord Howe half-hour DST", [w([7], "02:15", "03:00")], "Australia/Lord_Howe", "2026-10-03T15:00:00Z", false, "2026-10-03T15:30:00Z"],
    ["Kathmandu +05:45", [w([1, 2, 3, 4, 5, 6, 7], "09:00", "10:00")], "Asia/Kathmandu", "2026-11-28T03:00:00Z", false, "2026-11-28T03:15:00Z"],
    ["Chatham +13:45", [w([1, 2, 3, 4, 5, 6, 7], "00:00", "06:00")], "Pacific/Chatham", "2026-11-28T10:00:00Z", false, "2026-11-28T10:15:00Z"],
    // Santiago: midnight of 2026-09-06 does not exist; a window from 00:00 starts at 01:00 -03.
    ["Santiago midnight gap", [w([7], "00:00", "02:00")], "America/Santiago", "2026-09-06T03:30:00Z", false, "2026-09-06T04:00:00Z"],
    ["Havana midnight DST", [w([7], "00:00", "02:00")], "America/Havana", "2026-03-08T04:30:00Z", false, "2026-03-08T05:00:00Z"],
    ["a window wholly inside the gap does not happen that day", [w([7], "00:00", "01:00")], "America/Havana", "2026-03-08T04:30:00Z", false, "2026-03-15T04:00:00Z"],
    ["no windows: always", [], ny, "2026-11-28T12:00:00Z", true, undefined],
    ["whole week: always", [w([1, 2, 3, 4, 5, 6, 7], "00:00", "24:00")], ny, "2026-11-28T12:00:00Z", true, undefined],
  ])("%s", (_name, windows, zone, t, inside, next) => {
    expect(isInside(at(t), windows, zone)).toBe(inside);
    const b = nextBoundary(at(t), windows, zone);
    expect(b === undefined ? undefined : new Date(b).toISOString()).toBe(next === undefined ? undefined : new Date(next).toISOString());
  });

  const zones = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kathmandu", "Pacific/Chatham", "America/Santiago", "America/Havana", "UTC"];
  const windowArb = fc.record({
    days: fc.uniqueArray(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 7 }),
    start: fc.integer({ min: 0, max: 95 }).map((q) => q * 15),
    end: fc.integer({ min: 1, max: 96 }).map((q) => q * 15),
  }).filter((x) => x.start !== x.end);
  const instant = fc.integer({ min: Date.UTC(2025, 0, 1), max: Date.UTC(2028, 0, 1) });

  it("the next boundary is after the instant, the state is constant until it and flips there", () => {
    fc.assert(
      fc.property(fc.array(windowArb, { minLength: 1, maxLength: 3 }), fc.constantFrom(...zones), instant, (raw, zone, t) => {
        const ws = normalizeWindows(raw);
        const now = isInside(t, ws, zone);
        const b = nextBoundary(t, ws, zone);
        if (b === undefined) return;
        expect(b).toBeGreaterThan(t);
        expect(isInside(b, ws, zone)).toBe(!now);
        expect(isInside(b - 1, ws, zone)).toBe(now);
        // Constant in between, sampled.
        for (let k = 1; k < 8; k++) expect(isInside(t + Math.floor(((b - t) * k) / 8), ws, zone)).toBe(now);
      }),
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
            return ((m - s + 10080) % 10080) < len;
          }),
        );
        expect(isInside(t, ws, "UTC")).toBe(covered);
      }),
      { numRuns: 300 },
    );
  });
});
