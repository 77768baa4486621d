import { describe, expect, it } from "vitest";
import { periodFlagsVerdict, type PeriodRow } from "./period-flags.ts";

/** Exhaustion flags against spent >= limit, the limit depending on whether the period ended. */
describe("periodFlagsVerdict", () => {
  const now = Date.UTC(2030, 0, 2, 12);
  const brands = new Map([["b", { zone: "UTC", archived: false, dailyLimit: 1000n, monthlyLimit: null }]]);
  const row = (periodStart: string, spent: bigint, limit: bigint | null, exhausted: boolean, kind = 1): PeriodRow => ({
    brandId: "b",
    kind,
    periodStart,
    spent,
    limit,
    exhausted,
  });

  it("passes flags that follow spent >= limit: the budget's for today, the ended day's own", () => {
    const v = periodFlagsVerdict(
      [
        row("2030-01-02", 1000n, 1000n, true),
        row("2030-01-01", 150n, 100n, true),
        row("2030-01-01", 0n, null, false, 2),
      ],
      brands,
      now,
    );
    expect(v.ok, v.problems.join("; ")).toBe(true);
  });

  it("fails a flag that disagrees, a current period on another limit, and a period of an unknown brand", () => {
    expect(periodFlagsVerdict([row("2030-01-02", 1000n, 1000n, false)], brands, now).ok).toBe(false);
    expect(periodFlagsVerdict([row("2030-01-02", 10n, 1000n, true)], brands, now).ok).toBe(false);
    expect(periodFlagsVerdict([row("2030-01-01", 150n, 100n, false)], brands, now).ok).toBe(false);
    expect(periodFlagsVerdict([row("2030-01-02", 10n, 5n, true)], brands, now).ok).toBe(false);
    expect(periodFlagsVerdict([{ ...row("2030-01-02", 0n, null, false), brandId: "c" }], brands, now).ok).toBe(false);
  });
});
