import { describe, expect, it } from "vitest";
import { intlWallClock } from "./intl-wall-clock.js";

describe("intlWallClock", () => {
  it.each([
    // instant, zone, what a wall clock there shows (checked by hand against the tz database)
    ["2026-12-03T04:30:00Z", "America/Santiago", { date: "2026-12-03", time: "01:30", minute: 90, weekday: 4 }],
    ["1970-01-01T00:00:00Z", "Asia/Kathmandu", { date: "1970-01-01", time: "05:30", minute: 330, weekday: 4 }],
    // Santiago springs forward at local midnight: 23:59 on the 5th, then 01:00 on the 6th.
    ["2026-09-06T03:59:00Z", "America/Santiago", { date: "2026-09-05", time: "23:59", minute: 1439, weekday: 6 }],
    ["2026-09-06T04:00:00Z", "America/Santiago", { date: "2026-09-06", time: "01:00", minute: 60, weekday: 7 }],
    ["2027-01-04T00:00:00Z", "UTC", { date: "2027-01-04", time: "00:00", minute: 0, weekday: 1 }],
  ])("%s in %s", (iso, zone, shown) => {
    expect(intlWallClock(Date.parse(iso), zone)).toEqual(shown);
  });
});
