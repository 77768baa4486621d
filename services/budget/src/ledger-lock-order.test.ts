import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@adbudget/kit";
import { addDays, localDate, startOfDay } from "@adbudget/time";
import {
  blockedOnLock,
  campaignId,
  Latch,
  pausingPool,
  startBudgetHarness,
  type BudgetHarness,
} from "@adbudget/testing";
import { BudgetStore } from "./budget-store.js";
import { SpendWriter } from "./spend-writer.js";

/**
 * The ledger's lock order at a midnight (review of issue 20): a SetBudget that locked the budget
 * row just before the brand's midnight, and a spend batch just after it with a late event of the
 * day that ended. The spend used to lock the ended day's row (it takes no limit, so no budget
 * lock) and then wait for the budget row; SetBudget, judging the day it read under its lock,
 * then waited for that day row: a deadlock, and SetBudget failed. The spend takes every budget
 * row of its batch first now. Both sides are production code on explicit clocks.
 */
let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("SetBudget and a spend across the brand's midnight", () => {
  it("wait for each other in one order: both commit", async () => {
    const zone = "UTC";
    const brandId = (await h.brands.createBrand({ name: "Lock order", timeZone: zone })).brand!.id;
    const tomorrow = addDays(localDate(h.now(), zone), 1);
    const midnight = startOfDay(tomorrow, zone);
    await h.budget.setBudget({ brandId, dailyLimitMicros: 50_000_000n }); // the budget row and today's period exist
    const campaign = campaignId();

    // SetBudget at 23:59:59.990, held after it locked the budget row (at its history row).
    const latch = new Latch();
    const store = new BudgetStore(
      pausingPool(h.budgetApp.pool, (sql) => sql.startsWith("insert into budget_changes"), latch),
      h.prefix,
    );
    const set = store.setBudget(brandId, { daily: 40_000_000n }, zone, () => midnight - 10, {
      principal: "test",
      requestId: "lock-order",
    });
    await latch.reached;

    // A batch recorded at 00:00:00.005: a late event of the day that just ended, and one of the new day.
    const writer = new SpendWriter(h.budgetApp.pool, createLogger("test", "silent"), {
      subjectPrefix: h.prefix,
      now: () => midnight + 5,
    });
    const input = (eventId: string, occurredAtMs: number) => ({
      eventId,
      brandId,
      campaignId: campaign,
      amount: 1_000_000n,
      occurredAtMs,
      occurredAtGiven: true,
      timeZone: zone,
      brandArchived: false,
      reportedBy: "test:ad-server",
    });
    const spent = writer.submitAll([
      input(`lo-late-${brandId}`, midnight - 1_000),
      input(`lo-new-${brandId}`, midnight + 1),
    ]);
    await blockedOnLock(h.budgetApp.pool, "with input as (");
    latch.release();

    await expect(set).resolves.toBeDefined();
    const outcomes = await spent;
    expect(outcomes.every((o) => !(o instanceof Error))).toBe(true);
  });
});
