import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetEventCause, BudgetEventType } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { addDays, formatDate, localDate, parseDate } from "@adbudget/time";
import { blockedOnLock, Latch, pausingPool, startBudgetHarness, testZone, type BudgetHarness } from "@adbudget/testing";
import { applyCapSetting } from "./campaign-caps.js";

/**
 * Issue 20, finding 1: a cap change and a spend of the same campaign day, interleaved. The cap
 * change (the consumer's transaction, production code) is held at its COMMIT with the day row
 * locked and the new cap written; the spend is sent and waits for that row; then the change
 * commits and the spend goes on. The spend must judge by the cap that is in force when it gets
 * the row, and never write back a cap it read before: it used to, pausing a campaign at 6 of a
 * 10 cap for the rest of its day.
 */
let h: BudgetHarness;
let brandId: string;
beforeAll(async () => {
  h = await startBudgetHarness();
  brandId = (await h.brands.createBrand({ name: "Cap races", timeZone: testZone() })).brand!.id;
});
afterAll(async () => {
  await h?.close();
});

let campaignN = 0;
let eventN = 0;
const newCampaign = () => `01900000-0000-7000-8000-${(0xcafe00 + ++campaignN).toString(16).padStart(12, "0")}`;
const spend = (campaignId: string, amountMicros: bigint) =>
  h.budget.recordSpend({ eventId: `cap-race-${++eventN}`, brandId, campaignId, amountMicros });

function days() {
  const today = localDate(h.now(), testZone());
  return { today: formatDate(today), tomorrow: formatDate(addDays(today, 1)) };
}

/** The consumer's cap change, applied as it would be (a lifetime limit beside it when given). */
function setCap(
  campaignId: string,
  version: bigint,
  limit: bigint | null,
  pool = h.budgetApp.pool,
  lifetimeLimit: bigint | null = null,
) {
  return applyCapSetting(
    pool,
    h.prefix,
    { campaignId, brandId, limit, lifetimeLimit, version, startDate: null, endDate: null },
    days(),
    h.now(),
    { principal: "test:manager", requestId: "" },
  );
}

/**
 * Runs `change` held at its commit, sends `spend` meanwhile, waits until the spend is blocked on
 * the day row the change holds, then lets the change commit: the interleaving of the finding.
 */
async function spendDuringCapChange(
  change: (pool: typeof h.budgetApp.pool) => Promise<unknown>,
  spendIt: () => Promise<unknown>,
) {
  const latch = new Latch();
  const held = change(pausingPool(h.budgetApp.pool, (sql) => sql === "commit", latch));
  await latch.reached;
  const spent = spendIt();
  // The spend statement (its text begins so; pg_stat_activity keeps the first 1 kB) waits for the row.
  await blockedOnLock(h.budgetApp.pool, "with input as (");
  latch.release();
  await held;
  return spent;
}

/**
 * The finding's race for one campaign: its cap set to `limit` (version 2, over the version 1 the
 * case set first) while a spend of `amountMicros` is in flight, and the campaign day's row after
 * both. Each case differs only in the caps and amounts, and in what the row must then say.
 */
async function spendDuringCapChangeTo(campaign: string, limit: bigint | null, amountMicros: bigint) {
  await spendDuringCapChange(
    (pool) => setCap(campaign, 2n, limit, pool),
    () => spend(campaign, amountMicros),
  );
  return h.budget.getCampaignSpend({ brandId, campaignId: campaign });
}

async function capEventsOf(campaignId: string, lifetime = false) {
  await h.drained();
  return (await h.caps())
    .filter((c) => c.event.campaignId === campaignId && c.event.lifetime === lifetime)
    .map((c) => [c.event.type, c.event.cause, c.event.spentMicros, c.event.limitMicros]);
}

describe("a cap change while a spend of the same campaign day is in flight", () => {
  it("a raise: the spend judges by the raised cap and leaves it in place", async () => {
    const campaign = newCampaign();
    await setCap(campaign, 1n, 5_000_000n);
    await spend(campaign, 4_000_000n);
    expect(await spendDuringCapChangeTo(campaign, 10_000_000n, 2_000_000n)).toMatchObject({
      spentMicros: 6_000_000n,
      limitMicros: 10_000_000n,
      exhausted: false,
    });
    expect(await capEventsOf(campaign)).toEqual([]);
  });

  it("a removal: the spend judges by no cap and leaves none", async () => {
    const campaign = newCampaign();
    await setCap(campaign, 1n, 5_000_000n);
    await spend(campaign, 4_000_000n);
    const after = await spendDuringCapChangeTo(campaign, null, 2_000_000n);
    expect(after).toMatchObject({ spentMicros: 6_000_000n, exhausted: false });
    expect(after.limitMicros).toBeUndefined();
    expect(await capEventsOf(campaign)).toEqual([]);
  });

  it("a first cap set while the day's first spend is in flight: the spend meets the cap and crosses it", async () => {
    const campaign = newCampaign();
    await setCap(campaign, 1n, null); // known to the ledger, no cap
    expect(await spendDuringCapChangeTo(campaign, 5_000_000n, 6_000_000n)).toMatchObject({
      spentMicros: 6_000_000n,
      limitMicros: 5_000_000n,
      exhausted: true,
    });
    expect(await capEventsOf(campaign)).toEqual([
      [BudgetEventType.EXHAUSTED, BudgetEventCause.SPEND, 6_000_000n, 5_000_000n],
    ]);
  });

  it("a cap change writes every day not yet ended: tomorrow's row (spend dated ahead) takes it too", async () => {
    const campaign = newCampaign();
    await setCap(campaign, 1n, 5_000_000n);
    const { tomorrow } = days();
    expect(await setCap(campaign, 2n, 3_000_000n)).toEqual([]);
    const row = await h.budget.getCampaignSpend({ brandId, campaignId: campaign, day: parseDate(tomorrow) });
    expect(row).toMatchObject({ spentMicros: 0n, limitMicros: 3_000_000n, exhausted: false });
  });
});

describe("the first settings of a new campaign, from two replicas at once", () => {
  it("the older version arriving second changes nothing", async () => {
    const campaign = newCampaign();
    // v2 (a cap change) is held at its commit, its row written; v1 (the creation) comes meanwhile.
    const latch = new Latch();
    const v2 = setCap(
      campaign,
      2n,
      4_000_000n,
      pausingPool(h.budgetApp.pool, (sql) => sql === "commit", latch),
    );
    await latch.reached;
    const v1 = setCap(campaign, 1n, 9_000_000n);
    await blockedOnLock(h.budgetApp.pool, "insert into campaign_settings");
    latch.release();
    await Promise.all([v2, v1]);
    expect((await h.budget.getCampaignSpend({ brandId, campaignId: campaign })).limitMicros).toBe(4_000_000n);
    const { rows } = await h.budgetApp.pool.query<{ lim: string; version: string }>(
      "select daily_limit_micros::text as lim, version::text from campaign_settings where campaign_id = $1",
      [campaign],
    );
    expect(rows).toEqual([{ lim: "4000000", version: "2" }]);
  });
});

/**
 * The same interleaving for a lifetime limit: the change holds the campaign's lifetime row (created
 * by it when the campaign never spent) at its commit with the new limit written, and the spend
 * waits for that row. The spend must judge by the limit in force when it gets the row.
 */
describe("a lifetime limit change while a spend of the same campaign is in flight", () => {
  const setLifetime = (campaign: string, version: bigint, limit: bigint | null, pool = h.budgetApp.pool) =>
    setCap(campaign, version, null, pool, limit);
  async function spendDuringLifetimeChangeTo(campaign: string, limit: bigint | null, amountMicros: bigint) {
    await spendDuringCapChange(
      (pool) => setLifetime(campaign, 2n, limit, pool),
      () => spend(campaign, amountMicros),
    );
    return h.budget.getCampaignSpend({ brandId, campaignId: campaign });
  }

  it("a raise: the spend judges by the raised limit", async () => {
    const campaign = newCampaign();
    await setLifetime(campaign, 1n, 5_000_000n);
    await spend(campaign, 4_000_000n);
    expect(await spendDuringLifetimeChangeTo(campaign, 10_000_000n, 2_000_000n)).toMatchObject({
      lifetimeSpentMicros: 6_000_000n,
      lifetimeLimitMicros: 10_000_000n,
      lifetimeExhausted: false,
    });
    expect(await capEventsOf(campaign, true)).toEqual([]);
  });

  it("a first limit set while the campaign's first spend is in flight: the spend meets it and crosses it", async () => {
    const campaign = newCampaign();
    await setLifetime(campaign, 1n, null); // known to the ledger, no limit, never spent
    expect(await spendDuringLifetimeChangeTo(campaign, 5_000_000n, 6_000_000n)).toMatchObject({
      lifetimeSpentMicros: 6_000_000n,
      lifetimeLimitMicros: 5_000_000n,
      lifetimeExhausted: true,
    });
    expect(await capEventsOf(campaign, true)).toEqual([
      [BudgetEventType.EXHAUSTED, BudgetEventCause.SPEND, 6_000_000n, 5_000_000n],
    ]);
  });

  it("a lowered limit: the change finds room, the spend then crosses it, each said once", async () => {
    const campaign = newCampaign();
    await setLifetime(campaign, 1n, 10_000_000n);
    await spend(campaign, 4_000_000n);
    expect(await spendDuringLifetimeChangeTo(campaign, 5_000_000n, 2_000_000n)).toMatchObject({
      lifetimeSpentMicros: 6_000_000n,
      lifetimeLimitMicros: 5_000_000n,
      lifetimeExhausted: true,
    });
    expect(await capEventsOf(campaign, true)).toEqual([
      [BudgetEventType.EXHAUSTED, BudgetEventCause.SPEND, 6_000_000n, 5_000_000n],
    ]);
    // Removing it frees the campaign: one replenished event, caused by the change.
    expect((await setLifetime(campaign, 3n, null)).map((c) => [c.day, c.exhausted, c.cause])).toEqual([
      [null, false, "limit"],
    ]);
    expect(await capEventsOf(campaign, true)).toEqual([
      [BudgetEventType.EXHAUSTED, BudgetEventCause.SPEND, 6_000_000n, 5_000_000n],
      [BudgetEventType.REPLENISHED, BudgetEventCause.LIMIT_CHANGE, 6_000_000n, undefined],
    ]);
  });
});
