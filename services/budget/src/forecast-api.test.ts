import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDays, localDate, monthStart, nextMonthStart, startOfDay } from "@adbudget/time";
import { type BudgetHarness, campaignId, startBudgetHarness, testZone, USD } from "@adbudget/testing";

// The harness's clock stands at local noon in the test zone: 4 hours of pace end before midnight.
let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

const HOUR = 3_600_000;

async function brandSpending(daily: bigint, monthly?: bigint): Promise<string> {
  const { brand } = await h.brands.createBrand({ name: `Forecast ${Math.random()}`, timeZone: testZone() });
  await h.budget.setBudget({ brandId: brand!.id, dailyLimitMicros: daily, monthlyLimitMicros: monthly });
  const campaign = campaignId();
  // $20 in the last hour: $10 half an hour ago, $10 now; $50 two hours ago is outside the pace.
  await h.budget.recordSpend({
    eventId: "old",
    brandId: brand!.id,
    campaignId: campaign,
    amountMicros: 50n * USD,
    occurredAt: timestampFromMs(h.now() - 2 * HOUR),
  });
  await h.budget.recordSpend({
    eventId: "half",
    brandId: brand!.id,
    campaignId: campaign,
    amountMicros: 10n * USD,
    occurredAt: timestampFromMs(h.now() - HOUR / 2),
  });
  await h.budget.recordSpend({ eventId: "now", brandId: brand!.id, campaignId: campaign, amountMicros: 10n * USD });
  return brand!.id;
}

describe("GetBudgetStatus forecasts exhaustion at the last hour's pace", () => {
  it("answers when the day runs out, and nothing for an unlimited month", async () => {
    const brandId = await brandSpending(150n * USD); // $70 spent, $80 left, $20/h: in 4 hours
    const { status } = await h.budget.getBudgetStatus({ brandId });
    expect(status!.day!.lastHourSpentMicros).toBe(20n * USD);
    expect(status!.day!.remainingMicros).toBe(80n * USD);
    expect(timestampMs(status!.day!.projectedExhaustTime!)).toBe(timestampMs(status!.asOfTime!) + 4 * HOUR);
    expect(status!.month!.projectedExhaustTime).toBeUndefined();
  });

  it("never projects the month past the day's stop: today the month gains only what the day has left", async () => {
    const brandId = await brandSpending(150n * USD, 200n * USD); // $70 spent; the day has $80 left (4 h), the month $130
    const { status } = await h.budget.getBudgetStatus({ brandId });
    const asOf = timestampMs(status!.asOfTime!);
    expect(timestampMs(status!.day!.projectedExhaustTime!)).toBe(asOf + 4 * HOUR);
    // At $20/h alone the month would run out in 6.5 h, before midnight; but spend stops with the
    // day, and the month's last $50 take 2.5 h from the next local midnight (if still this month).
    const today = localDate(asOf, testZone());
    const midnight = startOfDay(addDays(today, 1), testZone());
    const monthEnd = startOfDay(nextMonthStart(monthStart(today)), testZone());
    const month = status!.month!.projectedExhaustTime;
    expect(month && timestampMs(month)).toBe(midnight + 2.5 * HOUR < monthEnd ? midnight + 2.5 * HOUR : undefined);
  });

  it("answers nothing when the period resets first, or when it is already exhausted", async () => {
    const slow = await brandSpending(1000n * USD, 100_000n * USD); // 46.5 hours of pace: after midnight; the month lasts
    const { status } = await h.budget.getBudgetStatus({ brandId: slow });
    expect(status!.day!.projectedExhaustTime).toBeUndefined();
    const exhausted = await brandSpending(60n * USD);
    const after = await h.budget.getBudgetStatus({ brandId: exhausted });
    expect(after.status!.day!.exhausted).toBe(true);
    expect(after.status!.day!.projectedExhaustTime).toBeUndefined();
  });

  it("is not part of spend answers (the spend path does not pay for it)", async () => {
    const brandId = await brandSpending(150n * USD);
    const res = await h.budget.recordSpend({ eventId: "more", brandId, campaignId: campaignId(), amountMicros: 1n });
    expect(res.status!.day!.projectedExhaustTime).toBeUndefined();
  });
});
