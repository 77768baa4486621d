import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { addDays, localDate, nextMonthStart, monthStart, startOfDay } from "@adbudget/time";
import { forecastPeriods, projectedExhaustion, RATE_WINDOW_MS, type BrandForecastInput } from "./forecast.js";
import { periodEnd } from "./proto-mapping.js";

const NOW = Date.UTC(2026, 11, 1, 12, 0);
const HOUR = 3_600_000;

describe("projectedExhaustion", () => {
  it.each<[string, Partial<Parameters<typeof projectedExhaustion>[0]>, number | undefined]>([
    ["$40 left at $20/h: in 2 hours", { remaining: 40_000_000n, spentInWindow: 20_000_000n }, NOW + 2 * HOUR],
    [
      "$40 left at $20/h, the day ends in 1 h: resets first",
      { remaining: 40_000_000n, spentInWindow: 20_000_000n, periodEndMs: NOW + HOUR },
      undefined,
    ],
    [
      "exactly at the period's end: resets first",
      { remaining: 20_000_000n, spentInWindow: 20_000_000n, periodEndMs: NOW + HOUR },
      undefined,
    ],
    ["rounded up to the millisecond", { remaining: 1n, spentInWindow: 3n }, NOW + Math.ceil(HOUR / 3)],
    ["unlimited", { remaining: undefined, spentInWindow: 20_000_000n }, undefined],
    ["already exhausted", { remaining: 0n, exhausted: true, spentInWindow: 20_000_000n }, undefined],
    ["nothing spent in the last hour", { remaining: 40_000_000n, spentInWindow: 0n }, undefined],
    ["a limit of 0 not yet judged exhausted: now", { remaining: 0n, spentInWindow: 1n }, NOW],
  ])("%s", (_name, over, expected) => {
    expect(
      projectedExhaustion({
        remaining: 0n,
        exhausted: false,
        spentInWindow: 0n,
        nowMs: NOW,
        periodEndMs: NOW + 12 * HOUR,
        ...over,
      }),
    ).toBe(expected);
  });

  it("is the first millisecond by which the last hour's pace spends what remains, before the period ends", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.bigInt({ min: 1n, max: 10n ** 15n }),
        fc.integer({ min: 0, max: 40 * 24 * HOUR }),
        (remaining, spentInWindow, horizon) => {
          const at = projectedExhaustion({
            remaining,
            exhausted: false,
            spentInWindow,
            nowMs: NOW,
            periodEndMs: NOW + horizon,
          });
          const spentBy = (ms: number) => (BigInt(ms) * spentInWindow) / BigInt(RATE_WINDOW_MS);
          const need = remaining * BigInt(RATE_WINDOW_MS);
          const enough = (ms: number) => BigInt(ms) * spentInWindow >= need;
          if (at === undefined) {
            // Not within the period: the pace does not spend it before the period's end.
            expect(horizon === 0 || !enough(horizon - 1)).toBe(true);
          } else {
            expect(at).toBeLessThan(NOW + horizon);
            expect(enough(at - NOW)).toBe(true);
            if (at > NOW) expect(enough(at - NOW - 1)).toBe(false);
            expect(spentBy(at - NOW)).toBeGreaterThanOrEqual(remaining > 0n ? remaining - 1n : 0n);
          }
        },
      ),
    );
  });
});

describe("the end of the period a forecast must come before", () => {
  it("is the next local midnight or 1st in the brand's zone, DST days included", () => {
    const day = (start: string) => ({ kind: PeriodKind.DAY, start, spent: 0n, limit: null }) as const;
    // New York springs forward on 2026-03-08: that day ends at 04:00Z (EDT), 23 hours after it began.
    expect(new Date(periodEnd(day("2026-03-08"), "America/New_York")).toISOString()).toBe("2026-03-09T04:00:00.000Z");
    // And falls back on 2026-11-01: a 25-hour day ending at 05:00Z (EST).
    expect(new Date(periodEnd(day("2026-11-01"), "America/New_York")).toISOString()).toBe("2026-11-02T05:00:00.000Z");
    // Kathmandu's day before a 1st, and a month.
    expect(new Date(periodEnd(day("2026-11-30"), "Asia/Kathmandu")).toISOString()).toBe("2026-11-30T18:15:00.000Z");
    expect(
      new Date(
        periodEnd({ kind: PeriodKind.MONTH, start: "2026-11-01", spent: 0n, limit: null }, "America/New_York"),
      ).toISOString(),
    ).toBe("2026-12-01T05:00:00.000Z");
  });
});

describe("forecastPeriods: no projection passes a limit that stops spend first", () => {
  // 13:14Z on 2026-12-10 (UTC brand), $30 in the last hour ($0.50 a minute), a $50 daily limit.
  const AT = Date.UTC(2026, 11, 10, 13, 14);
  const USD = 1_000_000n;
  const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
  type Case = {
    day?: Partial<BrandForecastInput["day"]>;
    month?: Partial<BrandForecastInput["month"]>;
    pace?: bigint;
    now?: number;
    zone?: string;
  };
  function run(c: Case) {
    const zone = c.zone ?? "UTC";
    const now = c.now ?? AT;
    const today = localDate(now, zone);
    return forecastPeriods({
      day: { start: today, limit: 50n * USD, remaining: 43n * USD, exhausted: false, ...c.day },
      month: {
        remaining: 116_500_000n,
        exhausted: false,
        endMs: startOfDay(nextMonthStart(monthStart(today)), zone),
        ...c.month,
      },
      spentInWindow: c.pace ?? 30n * USD,
      nowMs: now,
      zone,
    });
  }

  it.each<[string, Case, string | undefined, string | undefined]>([
    // The case: the month alone would run out at 17:07Z, but the day's limit stops spend
    // at 14:40Z; the month gets $43 today, $50 on the 11th (stopped at 01:40Z), $23.50 on the 12th.
    ["the day's limit stops spend first", {}, "2026-12-10T14:40:00.000Z", "2026-12-12T00:47:00.000Z"],
    [
      "no daily limit: the month at the plain pace",
      { day: { limit: undefined, remaining: undefined } },
      undefined,
      "2026-12-10T17:07:00.000Z",
    ],
    [
      "the month runs out before the day's limit: the day never reaches it",
      { day: { limit: 500n * USD, remaining: 200n * USD }, month: { remaining: 10n * USD } },
      undefined,
      "2026-12-10T13:34:00.000Z",
    ],
    [
      "both at the same instant",
      { day: { remaining: 10n * USD }, month: { remaining: 10n * USD } },
      "2026-12-10T13:34:00.000Z",
      "2026-12-10T13:34:00.000Z",
    ],
    [
      "the day is exhausted: the month goes on from the next midnight",
      { day: { remaining: 0n, exhausted: true }, month: { remaining: 20n * USD } },
      undefined,
      "2026-12-11T00:40:00.000Z",
    ],
    [
      "a daily limit of 0: nothing is ever spent, the month does not run out",
      { day: { limit: 0n, remaining: 0n, exhausted: true } },
      undefined,
      undefined,
    ],
    [
      "the capped days end with the month first",
      { month: { remaining: 1250n * USD } },
      "2026-12-10T14:40:00.000Z",
      undefined,
    ],
    [
      "the month is exhausted: spend has stopped, the day has no projection either",
      { month: { remaining: 0n, exhausted: true } },
      undefined,
      undefined,
    ],
    ["nothing spent in the last hour", { pace: 0n }, undefined, undefined],
    // $720 a day at this pace never reaches a $1000 daily limit: the same instant as without one.
    [
      "a daily limit the pace never reaches changes nothing",
      { day: { limit: 1000n * USD, remaining: 900n * USD }, month: { remaining: 1000n * USD } },
      undefined,
      "2026-12-11T22:34:00.000Z",
    ],
    // New York falls back on 2026-11-01: that day lasts 25 hours, to 05:00Z on the 2nd.
    [
      "the next day starts at the zone's midnight, DST days included",
      {
        zone: "America/New_York",
        now: Date.UTC(2026, 10, 1, 17, 0),
        day: { remaining: 0n, exhausted: true },
        month: { remaining: 20n * USD },
      },
      undefined,
      "2026-11-02T05:40:00.000Z",
    ],
  ])("%s", (_name, c, day, month) => {
    const f = run(c);
    expect([iso(f.dayMs), iso(f.monthMs)]).toEqual([day, month]);
  });

  it("caps only ever delay the month, and the day never runs out after the month stops spend", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 12n }),
        fc.option(fc.bigInt({ min: 0n, max: 10n ** 11n }), { nil: undefined }),
        fc.bigInt({ min: 0n, max: 10n ** 11n }),
        fc.bigInt({ min: 1n, max: 10n ** 10n }),
        fc.integer({ min: 0, max: 30 * 24 * HOUR }),
        (monthRemaining, limit, spentToday, pace, offset) => {
          const now = Date.UTC(2026, 11, 1) + offset;
          const remaining = limit === undefined ? undefined : limit > spentToday ? limit - spentToday : 0n;
          const exhausted = limit !== undefined && spentToday >= limit;
          const endMs = Date.UTC(2027, 0, 1);
          const f = forecastPeriods({
            day: { start: localDate(now, "UTC"), limit, remaining, exhausted },
            month: { remaining: monthRemaining, exhausted: false, endMs },
            spentInWindow: pace,
            nowMs: now,
            zone: "UTC",
          });
          const plain = projectedExhaustion({
            remaining: monthRemaining,
            exhausted: false,
            spentInWindow: pace,
            nowMs: now,
            periodEndMs: endMs,
          });
          if (limit === undefined) expect(f.monthMs).toBe(plain);
          if (f.monthMs !== undefined) {
            expect(plain).toBeDefined();
            expect(f.monthMs).toBeGreaterThanOrEqual(plain!);
          }
          if (f.dayMs !== undefined && f.monthMs !== undefined) expect(f.dayMs).toBeLessThanOrEqual(f.monthMs);
          // The day's own projection is untouched unless the month stops spend first.
          const own = projectedExhaustion({
            remaining,
            exhausted,
            spentInWindow: pace,
            nowMs: now,
            periodEndMs: startOfDay(addDays(localDate(now, "UTC"), 1), "UTC"),
          });
          if (f.dayMs !== undefined) expect(f.dayMs).toBe(own);
        },
      ),
    );
  });
});
