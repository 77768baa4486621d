import { describe, expect, it } from "vitest";
import { nextChangeOf } from "./next-change.js";

const at = (iso: string) => new Date(iso);
// Every day 09:00-17:00 in the brand's zone.
const officeHours = { timeZone: "", windows: [{ days: [1, 2, 3, 4, 5, 6, 7], start: 540, end: 1020 }] };

describe("nextChangeOf", () => {
  it.each<[string, Parameters<typeof nextChangeOf>[0], string | null]>([
    [
      "no schedule, no flight",
      { schedule: null, daypartAsOf: at("2026-12-01T10:00:00Z"), startDate: null, endDate: null },
      null,
    ],
    [
      "the window closes first",
      { schedule: officeHours, daypartAsOf: at("2026-12-01T10:00:00Z"), startDate: null, endDate: "2026-12-05" },
      "2026-12-01T17:00:00.000Z",
    ],
    [
      "the flight ends first (at midnight, inside no window)",
      { schedule: officeHours, daypartAsOf: at("2026-12-01T18:00:00Z"), startDate: null, endDate: "2026-12-01" },
      "2026-12-02T00:00:00.000Z",
    ],
    [
      "a flight without a schedule: its start",
      { schedule: null, daypartAsOf: at("2026-12-01T10:00:00Z"), startDate: "2026-12-03", endDate: null },
      "2026-12-03T00:00:00.000Z",
    ],
    [
      "a flight without a schedule, started: its end",
      { schedule: null, daypartAsOf: at("2026-12-04T10:00:00Z"), startDate: "2026-12-03", endDate: "2026-12-10" },
      "2026-12-11T00:00:00.000Z",
    ],
    [
      "an ended flight without a schedule: nothing ahead",
      { schedule: null, daypartAsOf: at("2026-12-12T10:00:00Z"), startDate: "2026-12-03", endDate: "2026-12-10" },
      null,
    ],
    [
      "an end past a Timestamp's range",
      { schedule: null, daypartAsOf: at("2026-12-12T10:00:00Z"), startDate: null, endDate: "9999-12-31" },
      null,
    ],
    [
      "without an as-of yet: from now",
      { schedule: null, daypartAsOf: null, startDate: "2026-12-03", endDate: null },
      "2026-12-03T00:00:00.000Z",
    ],
  ])("%s", (_name, c, want) => {
    const got = nextChangeOf(c, "UTC", Date.parse("2026-12-01T00:00:00Z"));
    expect(got === null ? null : got.toISOString()).toBe(want);
  });

  it("uses the brand's zone for the flight and the schedule's own zone for the windows", () => {
    const tokyo = { timeZone: "Asia/Tokyo", windows: officeHours.windows };
    // New York brand, Tokyo windows: 17:00 Tokyo (08:00Z) closes before New York's midnight (05:00Z next day).
    const got = nextChangeOf(
      { schedule: tokyo, daypartAsOf: at("2026-12-01T01:00:00Z"), startDate: null, endDate: "2026-12-01" },
      "America/New_York",
      0,
    );
    expect(got!.toISOString()).toBe("2026-12-01T08:00:00.000Z");
    const later = nextChangeOf(
      { schedule: tokyo, daypartAsOf: at("2026-12-02T01:00:00Z"), startDate: null, endDate: "2026-12-01" },
      "America/New_York",
      0,
    );
    expect(later!.toISOString()).toBe("2026-12-02T05:00:00.000Z");
  });
});
