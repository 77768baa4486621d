import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetEventCause, BudgetEventType } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { addDays, formatDate, localDate } from "@adbudget/time";
import { eventually, startBudgetHarness, testZone, type BudgetHarness } from "@adbudget/testing";
import { applyCapSetting } from "./campaign-caps.js";

/**
 * The ledger side of campaign caps against a real database and NATS: the settings a campaign
 * event carries (ordered by version), the judgment of a cap change against today's total, and
 * the spend statement's crossing, each published once through the outbox. (Without a campaign
 * service the harness checks no campaign ids: the settings are applied here as the consumer would.)
 */
let h: BudgetHarness;
let brandId: string;
beforeAll(async () => {
  h = await startBudgetHarness();
  brandId = (await h.brands.createBrand({ name: "Caps ledger", timeZone: testZone() })).brand!.id;
});
afterAll(async () => {
  await h?.close();
});

const CAMPAIGN = "01900000-0000-7000-8000-00000000ca01";
let n = 0;
const spend = (amountMicros: bigint) =>
  h.budget.recordSpend({ eventId: `cap-ledger-${n++}`, brandId, campaignId: CAMPAIGN, amountMicros });
const setting = (version: bigint, limit: bigint | null) => {
  const today = localDate(h.now(), testZone());
  const days = { today: formatDate(today), tomorrow: formatDate(addDays(today, 1)) };
  return applyCapSetting(
    h.budgetApp.pool,
    h.prefix,
    { campaignId: CAMPAIGN, brandId, limit, lifetimeLimit: null, version, startDate: null, endDate: null },
    days,
    h.now(),
    { principal: "test:manager", requestId: "" },
  );
};

describe("campaign caps in the ledger", () => {
  it("judges cap changes and crossings once each, and ignores settings older than the ones stored", async () => {
    expect(await setting(2n, 10_000_000n)).toEqual([]); // a first cap, nothing spent
    expect(await setting(1n, 1n)).toEqual([]); // an older version arriving late: ignored
    await spend(9_000_000n);
    expect((await h.budget.getCampaignSpend({ brandId, campaignId: CAMPAIGN })).limitMicros).toBe(10_000_000n);
    await spend(1_000_000n); // 10 of 10: crossed by spend
    await spend(1_000_000n); // past it: nothing more
    expect(await h.budget.getCampaignSpend({ brandId, campaignId: CAMPAIGN })).toMatchObject({
      spentMicros: 11_000_000n,
      exhausted: true,
    });

    expect(await setting(3n, 20_000_000n)).toMatchObject([{ exhausted: false, spent: 11_000_000n, cause: "limit" }]); // raised: room again
    expect(await setting(4n, 20_000_000n)).toEqual([]); // the same cap again
    expect(await setting(5n, 11_000_000n)).toMatchObject([{ exhausted: true, cause: "limit" }]); // lowered to the spend
    expect(await setting(6n, null)).toMatchObject([{ exhausted: false }]); // removed

    await h.drained();
    await eventually(async () => (await h.caps()).length === 4, 10_000, "four cap events");
    const caps = (await h.caps()).map((c) => [c.event.type, c.event.cause, c.event.spentMicros, c.event.campaignId]);
    expect(caps).toEqual([
      [BudgetEventType.EXHAUSTED, BudgetEventCause.SPEND, 10_000_000n, CAMPAIGN],
      [BudgetEventType.REPLENISHED, BudgetEventCause.LIMIT_CHANGE, 11_000_000n, CAMPAIGN],
      [BudgetEventType.EXHAUSTED, BudgetEventCause.LIMIT_CHANGE, 11_000_000n, CAMPAIGN],
      [BudgetEventType.REPLENISHED, BudgetEventCause.LIMIT_CHANGE, 11_000_000n, CAMPAIGN],
    ]);
    const seqs = (await h.caps()).map((c) => c.event.sequence);
    expect([...seqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(seqs); // increasing in commit order
    expect((await h.caps()).every((c) => c.subject.endsWith(`.${brandId}`))).toBe(true);
    // The brand's own budget saw none of it: no period events.
    expect(await h.events()).toEqual([]);
  });
});
