import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDays, localDate } from "@adbudget/time";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { type BudgetHarness, campaignId, rejection, startBudgetHarness, testZone } from "@adbudget/testing";

// The harness's clock stands at local noon in the test zone: "a day ago" is yesterday there.
let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

async function brand(): Promise<string> {
  const { brand } = await h.brands.createBrand({ name: `Campaign spend ${Math.random()}`, timeZone: testZone() });
  return brand!.id;
}

describe("GetCampaignSpend", () => {
  it("equals, per campaign and day, the spend the ledger acknowledged, under concurrent callers, batches and retries", async () => {
    const brandId = await brand();
    const [a, b] = [campaignId(), campaignId()];
    const expected = new Map([
      [a, 0n],
      [b, 0n],
    ]);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const c = i % 3 === 0 ? b : a;
      const amount = BigInt(1 + (i % 7)) * 1_000n;
      const event = { eventId: `e${i}`, brandId, campaignId: c, amountMicros: amount };
      // Whichever of an original and its racing retry is recorded answers duplicate = false.
      const count = (r: { duplicate: boolean }) => {
        if (!r.duplicate) expected.set(c, expected.get(c)! + amount);
      };
      calls.push(h.budget.recordSpend(event).then(count));
      if (i % 10 === 0) calls.push(h.budget.recordSpend(event).then(count));
    }
    calls.push(
      h.budget
        .recordSpendBatch({
          events: Array.from({ length: 20 }, (_, i) => ({
            eventId: `b${i}`,
            brandId,
            campaignId: b,
            amountMicros: 5_000n,
          })),
        })
        .then(() => expected.set(b, expected.get(b)! + 100_000n)),
    );
    await Promise.all(calls);
    const today = localDate(h.now(), testZone());
    const [ra, rb] = await Promise.all([
      h.budget.getCampaignSpend({ brandId, campaignId: a }),
      h.budget.getCampaignSpend({ brandId, campaignId: b }),
    ]);
    expect(ra).toMatchObject({
      brandId,
      campaignId: a,
      spentMicros: expected.get(a),
      day: { year: today.year, month: today.month, day: today.day },
    });
    expect(rb.spentMicros).toBe(expected.get(b));
    expect(ra.eventCount + rb.eventCount).toBe(220n);
    const { status } = await h.budget.getBudgetStatus({ brandId });
    expect(ra.spentMicros + rb.spentMicros).toBe(status!.day!.spentMicros);
  });

  it("counts spend toward the brand's local day it occurred in; a campaign without spend answers zero", async () => {
    const brandId = await brand();
    const c = campaignId();
    await h.budget.recordSpend({
      eventId: "y",
      brandId,
      campaignId: c,
      amountMicros: 7n,
      occurredAt: timestampFromMs(h.now() - 86_400_000),
    });
    await h.budget.recordSpend({ eventId: "t", brandId, campaignId: c, amountMicros: 3n });
    const yesterday = addDays(localDate(h.now(), testZone()), -1);
    expect((await h.budget.getCampaignSpend({ brandId, campaignId: c })).spentMicros).toBe(3n);
    expect((await h.budget.getCampaignSpend({ brandId, campaignId: c, day: yesterday })).spentMicros).toBe(7n);
    expect(await h.budget.getCampaignSpend({ brandId, campaignId: campaignId() })).toMatchObject({
      spentMicros: 0n,
      eventCount: 0n,
    });
  });

  it("keys a campaign's spend by its brand: another brand naming the same campaign id sees none of it", async () => {
    const [owner, other] = [await brand(), await brand()];
    const c = campaignId();
    await h.budget.recordSpend({ eventId: "o", brandId: owner, campaignId: c, amountMicros: 9n });
    expect((await h.budget.getCampaignSpend({ brandId: other, campaignId: c })).spentMicros).toBe(0n);
    expect((await h.budget.getCampaignSpend({ brandId: owner, campaignId: c })).spentMicros).toBe(9n);
  });

  it("refuses a bad day with its field path, and another brand's campaign for a caller scoped to one brand", async () => {
    const brandId = await brand();
    const bad = await rejection(
      h.budget.getCampaignSpend({ brandId, campaignId: campaignId(), day: { year: 2026, month: 13, day: 1 } }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
    expect(bad.message).toContain("day.month");
    const other = await brand();
    const viewer = createClient(
      BudgetService,
      createGrpcTransport({
        baseUrl: h.budgetApp.server.url,
        interceptors: await h.auth.as({ sub: "user:viewer", role: "viewer", brands: [brandId] }),
      }),
    );
    expect((await rejection(viewer.getCampaignSpend({ brandId: other, campaignId: campaignId() }))).code).toBe(
      Code.PermissionDenied,
    );
  });
});
