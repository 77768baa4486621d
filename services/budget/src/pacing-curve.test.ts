import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseDate } from "@adbudget/time";
import { dayCurve, learnedProfile, targetMicros, targetShare, UNIFORM_PROFILE } from "./pacing-curve.js";

const H = 3_600_000;

describe("dayCurve", () => {
  // Day lengths written out from the zones' published rules, not from the code's own helpers.
  it.each([
    ["UTC", "2027-03-14", 24],
    ["America/New_York", "2027-03-14", 23], // spring forward at 02:00
    ["America/New_York", "2027-11-07", 25], // fall back at 02:00
    ["Europe/Berlin", "2027-03-28", 23],
    ["Australia/Lord_Howe", "2027-04-04", 24.5], // half-hour fall back
    ["America/Havana", "2027-03-14", 23], // the gap is at midnight: the day starts at 01:00
  ])("%s on %s lasts %s hours and the curve ends at 1", (zone, day, hours) => {
    const c = dayCurve(parseDate(day), zone, UNIFORM_PROFILE);
    expect((c.end - c.start) / H).toBe(hours);
    expect(targetShare(c, c.end)).toBe(1);
    expect(targetShare(c, c.start)).toBe(0);
  });

  it("is linear in real time with the uniform profile, DST days included", () => {
    const days = ["2027-03-14", "2027-11-07", "2027-06-01"];
    fc.assert(
      fc.property(fc.constantFrom(...days), fc.double({ min: 0, max: 1, noNaN: true }), (day, f) => {
        const c = dayCurve(parseDate(day), "America/New_York", UNIFORM_PROFILE);
        const at = c.start + f * (c.end - c.start);
        expect(targetShare(c, at)).toBeCloseTo(f, 9);
      }),
    );
  });

  it("follows the profile: all weight on 12:00-13:00 puts the whole day's target in that hour", () => {
    const totals = Array.from({ length: 24 }, (_, h) => (h === 12 ? 1_000n : 0n));
    const c = dayCurve(parseDate("2027-06-01"), "UTC", learnedProfile(totals));
    const noon = c.start + 12 * H;
    // 0.75 of the weight sits in hour 12 (the learned share), 0.25 spread over all 24.
    const before = (0.25 * 12) / 24;
    expect(targetShare(c, noon)).toBeCloseTo(before, 6);
    expect(targetShare(c, noon + H)).toBeCloseTo(before + 0.75 + 0.25 / 24, 6);
  });

  it("is non-decreasing and within [0, 1] for any profile and instant", () => {
    fc.assert(
      fc.property(
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 12n }), { minLength: 24, maxLength: 24 }),
        fc.double({ min: -0.1, max: 1.1, noNaN: true }),
        fc.double({ min: 0, max: 0.2, noNaN: true }),
        (totals, f, d) => {
          const c = dayCurve(parseDate("2027-11-07"), "America/New_York", learnedProfile(totals));
          const a = c.start + f * (c.end - c.start);
          const b = a + d * (c.end - c.start);
          const sa = targetShare(c, a);
          expect(sa).toBeGreaterThanOrEqual(0);
          expect(targetShare(c, b)).toBeGreaterThanOrEqual(sa);
          expect(targetShare(c, b)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it("gives target micros in whole micros, never past the limit", () => {
    const c = dayCurve(parseDate("2027-06-01"), "UTC", UNIFORM_PROFILE);
    expect(targetMicros(c, c.start + 6 * H, 1_000_000_000n)).toBe(250_000_000n);
    expect(targetMicros(c, c.end + H, 7n)).toBe(7n);
  });

  it("learns nothing from no spend", () => {
    expect(learnedProfile(Array.from({ length: 24 }, () => 0n))).toBe(UNIFORM_PROFILE);
  });
});
