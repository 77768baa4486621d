import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { projectedExhaustion, RATE_WINDOW_MS } from "./forecast.js";
import { periodEnd } from "./proto-mapping.js";

const NOW = Date.UTC(2026, 11, 1, 12, 0);
const HOUR = 3_600_000;

describe("projectedExhaustion", () => {
  it.each<[string, Partial<Parameters<typeof projectedExhaustion>[0]>, number | undefined]>([
    ["$40 left at $20/h: in 2 hours", { remaining: 40_000_000n, spentInWindow: 20_000_000n }, NOW + 2 * HOUR],
    ["$40 left at $20/h, the day ends in 1 h: resets first", { remaining: 40_000_000n, spentInWindow: 20_000_000n, periodEndMs: NOW + HOUR }, undefined],
    ["exactly at the period's end: resets first", { remaining: 20_000_000n, spentInWindow: 20_000_000n, periodEndMs: NOW + HOUR }, undefined],
    ["rounded up to the millisecond", { remaining: 1n, spentInWindow: 3n }, NOW + Math.ceil(HOUR / 3)],
    ["unlimited", { remaining: undefined, spentInWindow: 20_000_000n }, undefined],
    ["already exhausted", { remaining: 0n, exhausted: true, spentInWindow: 20_000_000n }, undefined],
    ["nothing spent in the last hour", { remaining: 40_000_000n, spentInWindow: 0n }, undefined],
    ["a limit of 0 not yet judged exhausted: now", { remaining: 0n, spentInWindow: 1n }, NOW],
  ])("%s", (_name, over, expected) => {
    expect(projectedExhaustion({ remaining: 0n, exhausted: false, spentInWindow: 0n, nowMs: NOW, periodEndMs: NOW + 12 * HOUR, ...over })).toBe(expected);
  });

  it("is the first millisecond by which the last hour's pace spends what remains, before the period ends", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 15n }),
        fc.bigInt({ min: 1n, max: 10n ** 15n }),
        fc.integer({ min: 0, max: 40 * 24 * HOUR }),
        (remaining, spentInWindow, horizon) => {
          const at = projectedExhaustion({ remaining, exhausted: false, spentInWindow, nowMs: NOW, periodEndMs: NOW + horizon });
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
    expect(new Date(periodEnd({ kind: PeriodKind.MONTH, start: "2026-11-01", spent: 0n, limit: null }, "America/New_York")).toISOString()).toBe("2026-12-01T05:00:00.000Z");
  });
});
