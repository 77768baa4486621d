import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { addDays, formatDate, localDate, nextMonthStart, startOfDay } from "@adbudget/time";
import { loseBudgetEvents, startSystemInProcess, testBaseNow, type SystemHarness } from "@adbudget/testing";
import { createActivities } from "./activities.js";

/**
 * Issue 20, suspected item: campaigns resuming for an instant on the 1st when the new month
 * opens exhausted. The reset clock opens the day, then the month, each in its own change: a
 * campaign paused by the old day served between the two when the new month was exhausted from
 * its start (a monthly limit of 0). The services run 30 s into the next 1st of a month (UTC).
 */
const ZONE = "UTC";
let h: SystemHarness;
let first: ReturnType<typeof localDate>;
beforeAll(async () => {
  first = nextMonthStart(localDate(testBaseNow(), ZONE));
  const offset = startOfDay(first, ZONE) + 30_000 - Date.now();
  h = await startSystemInProcess({ env: { CLOCK_OFFSET_MS: String(offset) } });
});
afterAll(async () => {
  await h?.close();
});

describe("the day and the month opening on the 1st", () => {
  it("a campaign paused by the old day stays paused into a month that opens exhausted, never serving in between", async () => {
    const { brand } = await h.brands.createBrand({ name: "New month", timeZone: ZONE });
    const brandId = brand!.id;
    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Paused by yesterday" });
    const lastDay = addDays(first, -1);
    // The campaign service's view before midnight: the old day exhausted, the old month not.
    await h.campaignClock.openBudgetPeriods({
      brandId,
      sourceId: "test:yesterday",
      periods: [
        { period: { kind: PeriodKind.DAY, start: lastDay }, exhausted: true, sequence: 1n },
        { period: { kind: PeriodKind.MONTH, start: { ...lastDay, day: 1 } }, exhausted: false, sequence: 1n },
      ],
    });
    expect((await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.pauseReasons).toEqual([
      PauseReason.DAILY_BUDGET_EXHAUSTED,
    ]);
    // The new month may spend nothing; the campaigns learn it from the clock, not from an event.
    await loseBudgetEvents(h, () => h.budget.setBudget({ brandId, monthlyLimitMicros: 0n }));

    // The reset clock at midnight: the day, then the month (as budgetReset calls them).
    const acts = createActivities({
      brands: h.brands,
      campaigns: h.campaigns,
      campaignClock: h.campaignClock,
      budgetClock: h.budgetClock,
    });
    await acts.openBudgetPeriod({ brandId, kind: "day", start: formatDate(first), sourceId: "test:reset" });
    await acts.openBudgetPeriod({ brandId, kind: "month", start: formatDate(first), sourceId: "test:reset" });

    expect((await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.pauseReasons).toEqual([
      PauseReason.MONTHLY_BUDGET_EXHAUSTED,
    ]);
    // Every change since the old day paused it, oldest first: not one of them serving.
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId: campaign!.id });
    const since = changes.filter((c) => c.sourceId.startsWith("test:")).reverse();
    expect(since.map((c) => [c.sourceId, c.toServing, c.toReasons])).toEqual([
      ["test:yesterday", false, [PauseReason.DAILY_BUDGET_EXHAUSTED]],
      ["test:reset", false, [PauseReason.MONTHLY_BUDGET_EXHAUSTED]],
    ]);
  });
});
