import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addDays, daysInMonth, formatDate, isLeapYear, nextMonthStart, parseDate, periodsOf } from "./calendar.js";

/**
 * Years 0-99: Date.UTC and the Date constructor read them as 1900-1999, so every conversion of a
 * CalendarDate goes through zone.ts's utcMs. These tests use only ISO strings (Date.parse reads
 * "0049-..." as year 49) and hand-checked dates, never Date.UTC.
 */
describe("addDays in years 0-99 and around them", () => {
  it.each<[string, number, string]>([
    ["0049-01-01", 1, "0049-01-02"],
    ["0001-01-01", -1, "0000-12-31"],
    ["0000-12-31", 1, "0001-01-01"],
    ["0001-12-31", 1, "0002-01-01"],
    ["0049-12-31", 1, "0050-01-01"],
    ["0099-12-31", 1, "0100-01-01"],
    ["0100-01-01", -1, "0099-12-31"],
    ["0099-01-01", 365, "0100-01-01"], // 99 is not a leap year
    ["0048-02-28", 1, "0048-02-29"], // 48 is
    ["0000-02-28", 1, "0000-02-29"], // 0 is (divisible by 400)
    ["0100-02-28", 1, "0100-03-01"], // 100 is not
    ["1900-02-28", 1, "1900-03-01"],
    ["1969-12-31", 1, "1970-01-01"],
    ["1970-01-01", -1, "1969-12-31"],
  ])("%s + %i days -> %s", (from, days, want) => {
    expect(formatDate(addDays(parseDate(from), days))).toBe(want);
  });

  it("agrees with millisecond arithmetic on ISO instants for years 1-2102", () => {
    const day = 86_400_000;
    fc.assert(
      fc.property(
        fc.integer({ min: Date.parse("0003-01-01T00:00:00Z"), max: Date.parse("2100-01-01T00:00:00Z") }),
        fc.integer({ min: -800, max: 800 }),
        (t, n) => {
          const from = new Date(t - (((t % day) + day) % day)).toISOString().slice(0, 10);
          const want = new Date(Date.parse(`${from}T00:00:00Z`) + n * day).toISOString().slice(0, 10);
          expect(formatDate(addDays(parseDate(from), n))).toBe(want);
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe("periodsOf in years 0-99", () => {
  it("an instant in year 49, then one in 1949: each gets its own day (the memo is not poisoned)", () => {
    const zone = "Europe/Paris"; // used by no other periodsOf test: the memo starts empty for it
    const early = periodsOf(Date.parse("0049-06-15T12:00:00Z"), zone);
    expect(formatDate(early.day)).toBe("0049-06-15");
    expect(formatDate(early.month)).toBe("0049-06-01");
    const late = periodsOf(Date.parse("1949-06-15T12:00:00Z"), zone);
    expect(formatDate(late.day)).toBe("1949-06-15");
    expect(formatDate(late.month)).toBe("1949-06-01");
  });
});

describe("daysInMonth", () => {
  it.each<[number, number, number]>([
    [2024, 1, 31],
    [2024, 2, 29], // divisible by 4
    [2023, 2, 28],
    [1900, 2, 28], // by 100, not by 400
    [2000, 2, 29], // by 400
    [0, 2, 29],
    [2023, 4, 30],
    [2023, 6, 30],
    [2023, 9, 30],
    [2023, 11, 30],
    [2023, 12, 31],
  ])("%i-%i has %i days", (year, month, want) => {
    expect(daysInMonth(year, month)).toBe(want);
  });

  it("refuses what is not a month", () => {
    for (const month of [0, 13, 1.5, Number.NaN]) expect(() => daysInMonth(2024, month)).toThrow(RangeError);
  });

  it("is the day before the next month's 1st, for every month of years 1-2400", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2400 }), fc.integer({ min: 1, max: 12 }), (year, month) => {
        const last = addDays(nextMonthStart({ year, month, day: 1 }), -1);
        expect(daysInMonth(year, month)).toBe(last.day);
        expect(isLeapYear(year)).toBe(daysInMonth(year, 2) === 29);
      }),
      { numRuns: 500 },
    );
  });
});
