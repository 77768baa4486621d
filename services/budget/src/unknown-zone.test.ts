import { Code } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BudgetHarness, campaignId, rejection, startBudgetHarness, testZone } from "@adbudget/testing";

/**
 * A brand whose stored zone this budget service's runtime does not know (BrandService accepted
 * it with newer time zone data, say; here the brand's row is given a zone no runtime knows).
 * The spend writer computes every event's periods in one pass over its group commit: such an
 * event must fail alone, before it gets there, and not take its transaction's other callers with it.
 */
let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

async function brand(zone: string): Promise<string> {
  const { brand } = await h.brands.createBrand({ name: `Zone ${Math.random()}`, timeZone: testZone() });
  if (zone !== testZone())
    await h.brandApp.pool.query("update brands set time_zone = $2 where id = $1", [brand!.id, zone]);
  return brand!.id;
}

describe("a brand's zone the budget runtime does not know", () => {
  it("fails that brand's events alone, UNAVAILABLE (retriable), and the batch's other events are recorded", async () => {
    const innocent = await brand(testZone());
    const future = await brand("Mars/Olympus");
    const campaign = campaignId();
    const { results } = await h.budget.recordSpendBatch({
      events: [
        { eventId: "a", brandId: innocent, campaignId: campaign, amountMicros: 2n },
        { eventId: "m", brandId: future, campaignId: campaign, amountMicros: 1n },
        { eventId: "b", brandId: innocent, campaignId: campaign, amountMicros: 3n },
      ],
    });
    expect(results.map((r) => (r.response ? "ok" : r.error!.code))).toEqual(["ok", Code.Unavailable, "ok"]);
    expect(results[1].error!.message).toMatch(
      /"Mars\/Olympus" of brand .* is not in this budget service's time zone data/,
    );
    expect((await h.budget.getBudgetStatus({ brandId: innocent })).status!.day!.spentMicros).toBe(5n);

    // Alone too, and its reads: the same code and words, nothing recorded.
    const alone = await rejection(
      h.budget.recordSpend({ eventId: "m2", brandId: future, campaignId: campaign, amountMicros: 1n }),
    );
    expect(alone.code).toBe(Code.Unavailable);
    expect((await rejection(h.budget.getBudgetStatus({ brandId: future }))).code).toBe(Code.Unavailable);
    expect((await h.budget.listSpendEvents({ brandId: future })).events).toEqual([]);
  });
});
