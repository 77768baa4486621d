import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { daysThrough, lifetimeExhaustion, lifetimeShareToday, type LifetimeForecastInput } from "./lifetime-budget.js";

const HOUR = 3_600_000;

describe("daysThrough", () => {
  it.each([
    ["2027-03-01", "2027-03-01", 1],
    ["2027-03-01", "2027-03-31", 31],
    ["2027-02-27", "2027-03-01", 3], // not a leap year
    ["2028-02-27", "2028-03-01", 4], // a leap year
    ["2027-12-31", "2028-01-01", 2],
    ["2027-03-13", "2027-03-15", 3], // across New York's spring-forward day: days, not hours
    ["2027-03-02", "2027-03-01", 0],
  ])("%s through %s: %i", (from, to, n) => {
    expect(daysThrough(from, to)).toBe(n);
  });
});

describe("lifetimeShareToday", () => {
  const base = { limit: 300_000_000n, spent: 0n, spentFromToday: 0n, today: "2027-03-01", endDate: "2027-03-03" };
  it.each<[string, Partial<typeof base>, bigint | undefined]>([
    ["the first of three days: a third", {}, 100_000_000n],
    ["today's own spend does not move it", { spent: 40_000_000n, spentFromToday: 40_000_000n }, 100_000_000n],
    ["nor spend dated ahead into tomorrow", { spent: 45_000_000n, spentFromToday: 45_000_000n }, 100_000_000n],
    [
      "late spend of an earlier day is spent before today",
      { spent: 45_000_000n, spentFromToday: 40_000_000n },
      98_333_333n,
    ],
    ["an under-spent past leaves more for each day left", { spent: 60_000_000n, today: "2027-03-02" }, 120_000_000n],
    ["an over-spent past leaves less", { spent: 180_000_000n, today: "2027-03-02" }, 60_000_000n],
    ["the last day may spend all that is left", { spent: 250_000_000n, today: "2027-03-03" }, 50_000_000n],
    ["rounded down", { limit: 100n }, 33n],
    ["nothing left: 0", { spent: 300_000_000n, today: "2027-03-02" }, 0n],
    ["past the limit: 0, never negative", { spent: 400_000_000n, today: "2027-03-02" }, 0n],
    ["after the last day: not paced", { today: "2027-03-04" }, undefined],
    [
      "a lifetime total behind its day rows gives no money back",
      { spent: 10_000_000n, spentFromToday: 40_000_000n },
      100_000_000n,
    ],
  ])("%s", (_name, over, want) => {
    expect(lifetimeShareToday({ ...base, ...over })).toBe(want);
  });

  /** Day `i` of a flight that starts on 2027-01-01, as "YYYY-MM-DD" (Date's own calendar). */
  const dayOf = (i: number) => new Date(Date.UTC(2027, 0, 1 + i)).toISOString().slice(0, 10);

  it("a flight that spends at most each day's share never passes the limit, and ends at it when the last day spends all", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.integer({ min: 1, max: 400 }),
        fc.array(fc.integer({ min: 0, max: 1_000_000 }), { minLength: 400, maxLength: 400 }),
        (limit, days, ppm) => {
          const endDate = dayOf(days - 1);
          let spent = 0n;
          for (let i = 0; i < days; i++) {
            const share = lifetimeShareToday({ limit, spent, spentFromToday: 0n, today: dayOf(i), endDate });
            if (share === undefined) throw new Error(`day ${i} of the flight must be paced`);
            const last = i === days - 1;
            spent += last ? share : (share * BigInt(ppm[i] ?? 0)) / 1_000_000n;
            expect(spent).toBeLessThanOrEqual(limit);
          }
          expect(spent).toBe(limit);
          expect(lifetimeShareToday({ limit, spent, spentFromToday: 0n, today: dayOf(days), endDate })).toBeUndefined();
        },
      ),
    );
  });
});

describe("lifetimeExhaustion", () => {
  // New York, Sunday 2027-03-14 is the spring-forward day (23 hours). Since Saturday's midnight
  // (05:00 UTC, EST) to Sunday noon (16:00 UTC, EDT) is 35 hours, not 36.
  const zone = "America/New_York";
  const noon = Date.UTC(2027, 2, 14, 16, 0);
  const base: LifetimeForecastInput = {
    limit: 1_000_000_000n,
    spent: 300_000_000n,
    exhausted: false,
    recentSpent: 35_000_000n, // $1 an hour over the 35 hours
    sinceDay: "2027-03-13",
    endDate: "2027-12-31",
    nowMs: noon,
    zone,
  };
  it.each<[string, Partial<LifetimeForecastInput>, number | undefined]>([
    ["$700 left at $1/h over a DST-short window: in 700 h", {}, noon + 700 * HOUR],
    ["the flight ends first", { endDate: "2027-03-30" }, undefined],
    // 700 h after noon on the 14th of March is 20:00 UTC (16:00 EDT) on the 12th of April. The
    // first instant after 2027-04-11 in New York is 04:00 UTC on the 12th: before it.
    ["the flight ends the day before: not before the end", { endDate: "2027-04-11" }, undefined],
    ["the flight's last day contains it", { endDate: "2027-04-12" }, Date.UTC(2027, 3, 12, 20, 0)],
    ["no end date: only the pace bounds it", { endDate: null }, noon + 700 * HOUR],
    ["no limit", { limit: null }, undefined],
    ["exhausted", { exhausted: true }, undefined],
    ["spent past the limit, not yet judged", { spent: 1_000_000_001n }, undefined],
    ["nothing spent lately", { recentSpent: 0n }, undefined],
    ["rounded up to the millisecond", { limit: 300_000_001n, recentSpent: 3n * 35n }, noon + Math.ceil(HOUR / 3)],
  ])("%s", (_name, over, want) => {
    expect(lifetimeExhaustion({ ...base, ...over })).toBe(want);
  });
  it("never passes the last instant a Timestamp holds, even where the flight ends later (west of UTC)", () => {
    // Pago Pago is UTC-11: a flight ending 9999-12-31 there ends at 10000-01-01T11:00Z. From
    // 9999-12-30 00:00 local (11:00Z) to 12:00Z on the 31st is 25 hours: 25 spent is 1 an hour,
    // so 13 left would run out at 01:00Z on 10000-01-01, past 9999-12-31T23:59:59.999Z.
    const west: LifetimeForecastInput = {
      limit: 113n,
      spent: 100n,
      exhausted: false,
      recentSpent: 25n,
      sinceDay: "9999-12-30",
      endDate: "9999-12-31",
      nowMs: Date.UTC(9999, 11, 31, 12, 0),
      zone: "Pacific/Pago_Pago",
    };
    expect(lifetimeExhaustion(west)).toBeUndefined();
    // 11 left: 23:00Z, inside the range, is answered.
    expect(lifetimeExhaustion({ ...west, limit: 111n })).toBe(Date.UTC(9999, 11, 31, 23, 0));
  });
});
