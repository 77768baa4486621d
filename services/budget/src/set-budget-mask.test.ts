import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { type BudgetHarness, campaignId, newBrand, rejection, startBudgetHarness, USD } from "@adbudget/testing";

/** SetBudget's update_mask (AIP-134) through the API: no partial call clears a limit unless it says so. */
let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

const brand = () => newBrand(h.brands, "Mask");

/**
 * A new brand whose budget is first set to these limits (and these alert percents, when given):
 * the budget each case then changes with the call under test. The request carries only what is
 * given, so a case without alerts starts from a budget that never had any.
 */
async function brandWithBudget(dailyLimitMicros: bigint, monthlyLimitMicros: bigint, percents?: number[]) {
  const id = await brand();
  const alerts = percents === undefined ? {} : { alerts: { percents } };
  await h.budget.setBudget({ brandId: id, dailyLimitMicros, monthlyLimitMicros, ...alerts });
  return id;
}

/** The brand's recorded changes, oldest first, as [before daily, before monthly, after daily, after monthly]. */
async function changesOf(brandId: string) {
  const { changes } = await h.budget.listBudgetChanges({ brandId });
  return changes
    .reverse()
    .map((c) => [c.oldDailyLimitMicros, c.oldMonthlyLimitMicros, c.newDailyLimitMicros, c.newMonthlyLimitMicros]);
}

describe("SetBudget without a mask changes the fields it populates", () => {
  it("alerts alone (the README's example) keep both limits, and the change records them before and after", async () => {
    const id = await brandWithBudget(50n * USD, 1000n * USD);
    const set = await h.budget.setBudget({ brandId: id, alerts: { percents: [80, 50] } });
    expect(set.budget).toMatchObject({
      dailyLimitMicros: 50n * USD,
      monthlyLimitMicros: 1000n * USD,
      alertPercents: [50, 80],
    });
    expect(set.status!.day).toMatchObject({ limitMicros: 50n * USD });
    expect(set.status!.month).toMatchObject({ limitMicros: 1000n * USD });
    expect((await h.budget.getBudget({ brandId: id })).budget).toMatchObject({
      dailyLimitMicros: 50n * USD,
      monthlyLimitMicros: 1000n * USD,
    });
    expect(await changesOf(id)).toEqual([
      [undefined, undefined, 50n * USD, 1000n * USD],
      [50n * USD, 1000n * USD, 50n * USD, 1000n * USD],
    ]);
  });

  it("one limit alone keeps the other and the alerts", async () => {
    const id = await brandWithBudget(5n * USD, 100n * USD, [90]);
    const set = await h.budget.setBudget({ brandId: id, dailyLimitMicros: 10n * USD });
    expect(set.budget).toMatchObject({
      dailyLimitMicros: 10n * USD,
      monthlyLimitMicros: 100n * USD,
      alertPercents: [90],
    });
  });

  it("a brand's first call creates the budget: the limits it does not set are unlimited", async () => {
    const id = await brand();
    const set = await h.budget.setBudget({ brandId: id, monthlyLimitMicros: 0n });
    expect(set.budget!.dailyLimitMicros).toBeUndefined();
    expect(set.budget!.monthlyLimitMicros).toBe(0n);
    expect(set.budget!.alertPercents).toEqual([]);
    expect(set.status!.month!.exhausted).toBe(true);
    expect(set.status!.day!.limitMicros).toBeUndefined();
  });
});

describe("SetBudget with a mask changes exactly the named fields", () => {
  it("a named limit left out is cleared (unlimited): the explicit way to remove it; the day is replenished", async () => {
    const id = await brandWithBudget(3n * USD, 100n * USD, [50]);
    await h.budget.recordSpend({
      eventId: "past-the-day",
      brandId: id,
      campaignId: campaignId(),
      amountMicros: 4n * USD,
    });
    const cleared = await h.budget.setBudget({ brandId: id, updateMask: { paths: ["daily_limit_micros"] } });
    expect(cleared.budget!.dailyLimitMicros).toBeUndefined();
    expect(cleared.budget).toMatchObject({ monthlyLimitMicros: 100n * USD, alertPercents: [50] });
    expect(cleared.status!.day).toMatchObject({ exhausted: false, spentMicros: 4n * USD });
    expect(cleared.status!.day!.limitMicros).toBeUndefined();
    expect((await changesOf(id)).at(-1)).toEqual([3n * USD, 100n * USD, undefined, 100n * USD]);
  });

  it("fields the mask does not name are kept even when the request carries them", async () => {
    const id = await brandWithBudget(5n * USD, 100n * USD);
    const set = await h.budget.setBudget({
      brandId: id,
      dailyLimitMicros: 7n * USD,
      monthlyLimitMicros: 1n,
      updateMask: { paths: ["daily_limit_micros"] },
    });
    expect(set.budget).toMatchObject({ dailyLimitMicros: 7n * USD, monthlyLimitMicros: 100n * USD });
  });

  it('"*" replaces the whole budget: limits and alerts left out are cleared', async () => {
    const id = await brandWithBudget(5n * USD, 100n * USD, [50]);
    const set = await h.budget.setBudget({ brandId: id, monthlyLimitMicros: 200n * USD, updateMask: { paths: ["*"] } });
    expect(set.budget!.dailyLimitMicros).toBeUndefined();
    expect(set.budget).toMatchObject({ monthlyLimitMicros: 200n * USD, alertPercents: [] });
  });

  it("an unknown path is INVALID_ARGUMENT on update_mask, and nothing changes", async () => {
    const id = await brand();
    await h.budget.setBudget({ brandId: id, dailyLimitMicros: 5n * USD });
    const err = await rejection(h.budget.setBudget({ brandId: id, updateMask: { paths: ["daily_limit"] } }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field))).toEqual([
      "update_mask",
    ]);
    expect((await h.budget.getBudget({ brandId: id })).budget!.dailyLimitMicros).toBe(5n * USD);
    expect(await changesOf(id)).toHaveLength(1);
  });

  it("reads the mask as curl sends it (Connect JSON, camelCase paths in one string)", async () => {
    const id = await brandWithBudget(5n * USD, 100n * USD);
    const res = await fetch(`${h.budgetApp.server.url}/adbudget.budget.v1.BudgetService/SetBudget`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${h.auth.adminToken}` },
      body: JSON.stringify({ brandId: id, updateMask: "dailyLimitMicros,alerts" }),
    });
    expect(res.status).toBe(200);
    const { budget } = (await res.json()) as { budget: { dailyLimitMicros?: string; monthlyLimitMicros?: string } };
    expect(budget).toMatchObject({ monthlyLimitMicros: "100000000" });
    expect(budget.dailyLimitMicros).toBeUndefined();
  });
});
