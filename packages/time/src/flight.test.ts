import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { addDays } from "./calendar.js";
import { FlightPhase, flightInstants, flightPhase, nextFlightChange, type Flight } from "./flight.js";
import { localDate } from "./zone.js";

const d = (s: string) => {
  const [year, month, day] = s.split("-").map(Number) as [number, number, number];
  return { year, month, day };
};
const at = (iso: string) => Date.parse(iso);

describe("flightInstants", () => {
  // Each row: a zone, a flight, and the instants it starts and ends at. The ends fall on days
  // whose midnight daylight saving moves or removes.
  it.each([
    // Havana springs forward at midnight: March 8 has no 00:00, its first instant is 01:00 CDT.
    ["America/Havana", { end: d("2026-03-07") }, undefined, "2026-03-08T05:00:00.000Z"],
    // Santiago falls back at 24:00 on April 4 (23:00 twice): April 5 starts at 00:00 -04.
    ["America/Santiago", { end: d("2026-04-04") }, undefined, "2026-04-05T04:00:00.000Z"],
    // Santiago springs forward at 24:00 on September 5: September 6 starts at 01:00 -03.
    [
      "America/Santiago",
      { start: d("2026-09-06"), end: d("2026-09-05") },
      "2026-09-06T04:00:00.000Z",
      "2026-09-06T04:00:00.000Z",
    ],
    // Beirut springs forward at midnight on March 29.
    ["Asia/Beirut", { start: d("2026-03-29") }, "2026-03-28T22:00:00.000Z", undefined],
    // New York's change is at 02:00, so its midnights are ordinary.
    [
      "America/New_York",
      { start: d("2026-11-01"), end: d("2026-11-01") },
      "2026-11-01T04:00:00.000Z",
      "2026-11-02T05:00:00.000Z",
    ],
    // Kathmandu is UTC+5:45.
    [
      "Asia/Kathmandu",
      { start: d("2026-12-31"), end: d("2026-12-31") },
      "2026-12-30T18:15:00.000Z",
      "2026-12-31T18:15:00.000Z",
    ],
    ["UTC", {}, undefined, undefined],
  ] as [string, Flight, string | undefined, string | undefined][])("%s %j", (zone, flight, startsAt, endsAt) => {
    const got = flightInstants(flight, zone);
    expect(got.startsAt === undefined ? undefined : new Date(got.startsAt).toISOString()).toBe(startsAt);
    expect(got.endsAt === undefined ? undefined : new Date(got.endsAt).toISOString()).toBe(endsAt);
  });
});

describe("flightPhase", () => {
  const flight = { start: d("2026-03-02"), end: d("2026-03-07") };
  const zone = "America/Havana";
  it.each([
    ["2026-03-02T04:59:59.999Z", FlightPhase.BEFORE], // 23:59:59.999 on March 1, CST
    ["2026-03-02T05:00:00.000Z", FlightPhase.DURING], // the first instant of the start date
    ["2026-03-08T04:59:59.999Z", FlightPhase.DURING], // the last instant of March 7
    ["2026-03-08T05:00:00.000Z", FlightPhase.AFTER], // 01:00 CDT, the first instant of March 8
  ])("at %s", (iso, phase) => {
    expect(flightPhase(at(iso), flight, zone)).toBe(phase);
  });

  it("without dates is always during", () => {
    expect(flightPhase(0, {}, "UTC")).toBe(FlightPhase.DURING);
    expect(nextFlightChange(0, {}, "UTC")).toBeUndefined();
  });

  it("an end before the start never serves", () => {
    const empty = { start: d("2026-05-10"), end: d("2026-05-01") };
    expect(flightPhase(at("2026-05-05T12:00:00Z"), empty, "UTC")).toBe(FlightPhase.BEFORE);
    expect(flightPhase(at("2026-05-10T12:00:00Z"), empty, "UTC")).toBe(FlightPhase.AFTER);
  });
});

/** Chronological order of the phases (their enum values are not). */
const rank = { [FlightPhase.BEFORE]: 0, [FlightPhase.DURING]: 1, [FlightPhase.AFTER]: 2 };
const zones = [
  "UTC",
  "America/New_York",
  "America/Havana",
  "America/Santiago",
  "Asia/Beirut",
  "Asia/Kathmandu",
  "Australia/Lord_Howe",
  "Pacific/Apia",
];
const instant = fc.integer({ min: at("2000-01-01T00:00:00Z"), max: at("2040-01-01T00:00:00Z") });

describe("flight properties", () => {
  it("phases only move forward: BEFORE, then DURING, then AFTER; the next change is exact", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        instant,
        fc.integer({ min: -40, max: 40 }),
        fc.integer({ min: 0, max: 60 }),
        fc.boolean(),
        fc.boolean(),
        (zone, t, offset, length, hasStart, hasEnd) => {
          const start = addDays(localDate(t, zone), offset);
          const flight: Flight = { ...(hasStart ? { start } : {}), ...(hasEnd ? { end: addDays(start, length) } : {}) };
          const now = flightPhase(t, flight, zone);
          const next = nextFlightChange(t, flight, zone);
          if (next === undefined) {
            // Nothing ahead changes it: AFTER is final, and without an end DURING is too.
            expect(now === FlightPhase.AFTER || !hasEnd).toBe(true);
            return;
          }
          expect(next).toBeGreaterThan(t);
          expect(flightPhase(next - 1, flight, zone)).toBe(now);
          expect(rank[flightPhase(next, flight, zone)]).toBeGreaterThan(rank[now]);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("an instant is inside iff its local date lies within the dates", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...zones),
        instant,
        fc.integer({ min: -3, max: 3 }),
        fc.integer({ min: 0, max: 3 }),
        (zone, t, offset, length) => {
          const start = addDays(localDate(t, zone), offset);
          const end = addDays(start, length);
          const day = localDate(t, zone);
          const key = (c: { year: number; month: number; day: number }) => c.year * 10000 + c.month * 100 + c.day;
          const inside = key(day) >= key(start) && key(day) <= key(end);
          expect(flightPhase(t, { start, end }, zone) === FlightPhase.DURING).toBe(inside);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
