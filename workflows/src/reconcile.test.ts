import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  eventually,
  loseBudgetEvents,
  offsetToLocalTime,
  startSystemInProcess,
  type SystemHarness,
} from "@adbudget/testing";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { createActivities } from "./activities.js";

/**
 * Reconciliation repairs what events could not: the ledger's state of each brand's current
 * periods reaches the campaigns even when the event that said so was lost. The services run at
 * noon UTC (CLOCK_OFFSET_MS), so no midnight falls inside the test at any real hour.
 */
let h: SystemHarness;
let offset = 0;
const now = () => Date.now() + offset;
beforeAll(async () => {
  offset = offsetToLocalTime("UTC", 12);
  h = await startSystemInProcess({ env: { CLOCK_OFFSET_MS: String(offset) } });
});
afterAll(async () => {
  await h?.close();
});

const activities = () =>
  createActivities({
    brands: h.brands,
    campaigns: h.campaigns,
    campaignClock: h.campaignClock,
    budgetClock: h.budgetClock,
    reconcilePageSize: 2,
  });
const reasons = async (id: string) => (await h.campaigns.getCampaign({ id })).campaign!.pauseReasons;

describe("reconciliation repairs budget state", () => {
  it("a lost exhaustion event: the campaign pauses at the next pass", async () => {
    const { brand } = await h.brands.createBrand({ name: "Lost event", timeZone: "UTC" });
    const brandId = brand!.id;
    await h.budget.setBudget({ brandId, dailyLimitMicros: 5n });
    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Unaware" });
    await h.budget.recordSpend({ eventId: "warm", brandId, campaignId: campaign!.id, amountMicros: 1n });
    await loseBudgetEvents(h, () =>
      h.budget.recordSpend({ eventId: "crosses", brandId, campaignId: campaign!.id, amountMicros: 10n }),
    );
    await new Promise((r) => setTimeout(r, 1000));
    expect(await reasons(campaign!.id)).toEqual([]); // nobody told it

    const counts = await activities().reconcile({ nowMs: now(), sourceId: "test-reconcile" });
    expect(counts.campaignsReset).toBeGreaterThanOrEqual(1);
    expect(await reasons(campaign!.id)).toEqual([PauseReason.DAILY_BUDGET_EXHAUSTED]);
    // A second pass finds nothing more to do for it.
    await activities().reconcile({ nowMs: now(), sourceId: "test-reconcile" });
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId: campaign!.id });
    expect(changes.filter((c) => c.sourceId === "test-reconcile").map((c) => c.toServing)).toEqual([false]);
  });

  it("a month with a limit of 0 whose event was lost is exhausted at the next pass", async () => {
    const { brand } = await h.brands.createBrand({ name: "Zero month", timeZone: "Asia/Kathmandu" });
    const brandId = brand!.id;
    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Zero" });
    await loseBudgetEvents(h, () => h.budget.setBudget({ brandId, monthlyLimitMicros: 0n }));
    expect(await reasons(campaign!.id)).toEqual([]);
    await activities().reconcile({ nowMs: now(), sourceId: "test-reconcile" });
    expect(await reasons(campaign!.id)).toEqual([PauseReason.MONTHLY_BUDGET_EXHAUSTED]);
  });

  it("goes page by page through every brand and campaign", async () => {
    for (let i = 0; i < 5; i++) {
      const { brand } = await h.brands.createBrand({ name: `Paged ${i}`, timeZone: "UTC" });
      await h.campaigns.createCampaign({ brandId: brand!.id, name: `Paged ${i}` });
    }
    const acts = activities();
    const first = await acts.reconcileBrands({ nowMs: now(), sourceId: "test-pages", pageToken: "" });
    expect(first.counts.brandsChecked).toBe(2);
    expect(first.nextPageToken).not.toBe("");
    const { brands } = await h.brands.listBrands({ pageSize: 1000 });
    const { campaigns } = await h.campaigns.listCampaigns({ pageSize: 1000 });
    const all = await acts.reconcile({ nowMs: now(), sourceId: "test-pages" });
    expect(all.brandsChecked).toBe(brands.length);
    expect(all.campaignsChecked).toBe(campaigns.length);
  });
});

describe("reconciliation repairs any divergence from the current truth", () => {
  it("states corrupted behind the services' backs are repaired in one pass, each recorded as reconcile", async () => {
    const { brand: a } = await h.brands.createBrand({ name: "Drifted", timeZone: "UTC" });
    const { brand: b } = await h.brands.createBrand({ name: "Drifted too", timeZone: "UTC" });
    await h.budget.setBudget({ brandId: a!.id, dailyLimitMicros: 5n });
    const { campaign: plain } = await h.campaigns.createCampaign({ brandId: a!.id, name: "Plain" });
    const { campaign: capped } = await h.campaigns.createCampaign({
      brandId: a!.id,
      name: "Capped",
      dailyLimitMicros: 3n,
    });
    const { campaign: free } = await h.campaigns.createCampaign({ brandId: b!.id, name: "Free" });
    await eventually(
      async () => (await h.budget.getCampaignSpend({ brandId: a!.id, campaignId: capped!.id })).limitMicros === 3n,
      15_000,
      "cap known",
    );
    await h.budget.recordSpend({ eventId: "drift-1", brandId: a!.id, campaignId: capped!.id, amountMicros: 4n });
    await h.budget.recordSpend({ eventId: "drift-2", brandId: a!.id, campaignId: plain!.id, amountMicros: 2n });
    await eventually(
      async () => (await reasons(capped!.id)).length === 2 && (await reasons(plain!.id)).length === 1,
      15_000,
      "settled",
    );
    expect(await reasons(capped!.id)).toEqual([
      PauseReason.DAILY_BUDGET_EXHAUSTED,
      PauseReason.CAMPAIGN_BUDGET_EXHAUSTED,
    ]);

    // Behind the services' backs: a state that drifted with its flags right (the same sequences
    // everywhere: the old reconciliation's opening changed nothing and returned), a flag that
    // drifted at its sequence, a lost cap flag, and a campaign paused for nothing.
    const db = h.campaignApp.pool;
    await db.query("update campaigns set serving = true, pause_reasons = '{}' where id = $1", [plain!.id]);
    await db.query("update campaigns set cap_flags = '{}' where id = $1", [capped!.id]);
    await db.query("update budget_flags set exhausted = false where brand_id = $1 and kind = 1", [a!.id]);
    await db.query("update campaigns set serving = false, pause_reasons = '{3}' where id = $1", [free!.id]);
    expect(await reasons(plain!.id)).toEqual([]);
    expect(await reasons(free!.id)).toEqual([PauseReason.DAILY_BUDGET_EXHAUSTED]);

    await activities().reconcile({ nowMs: now(), sourceId: "test-repair" });
    expect(await reasons(plain!.id)).toEqual([PauseReason.DAILY_BUDGET_EXHAUSTED]);
    expect(await reasons(capped!.id)).toEqual([
      PauseReason.DAILY_BUDGET_EXHAUSTED,
      PauseReason.CAMPAIGN_BUDGET_EXHAUSTED,
    ]);
    expect((await h.campaigns.getCampaign({ id: free!.id })).campaign).toMatchObject({
      serving: true,
      pauseReasons: [],
    });
    for (const id of [plain!.id, free!.id]) {
      const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId: id });
      expect(changes[0]).toMatchObject({ cause: "reconcile", sourceId: "test-repair" });
    }
    // The capped campaign's state was right once its flag was back: nothing to record for it.
    const cappedChanges = (await h.campaigns.listCampaignStateChanges({ campaignId: capped!.id })).changes;
    expect(cappedChanges.some((c) => c.sourceId === "test-repair")).toBe(false);

    // A second pass finds nothing more.
    await activities().reconcile({ nowMs: now(), sourceId: "test-repair-again" });
    for (const id of [plain!.id, capped!.id, free!.id]) {
      const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId: id });
      expect(changes.some((c) => c.sourceId === "test-repair-again")).toBe(false);
    }
  });
});
