import { afterAll, beforeAll, expect, it } from "vitest";
import { BudgetEventType } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { campaignId, startBudgetHarness, type BudgetHarness } from "@adbudget/testing";

let h: BudgetHarness;
beforeAll(async () => {
  // The budget service reaches NATS only through a proxy this test cuts and restores.
  h = await startBudgetHarness({ natsProxy: true });
});
afterAll(async () => {
  await h?.close();
});

it("an exhaustion committed while NATS is unreachable is published after it returns, once", async () => {
  const { brand } = await h.brands.createBrand({ name: "Outage" });
  const brandId = brand!.id;
  await h.budget.setBudget({ brandId, dailyLimitMicros: 10n });
  await h.drained();

  await h.natsProxy!.cut();
  // Spend keeps being recorded while NATS is down; the crossing waits in the outbox.
  const res = await h.budget.recordSpend({
    eventId: `o1-${brandId}`,
    brandId,
    campaignId: campaignId(),
    amountMicros: 12n,
  });
  expect(res.status?.day?.exhausted).toBe(true);
  await new Promise((r) => setTimeout(r, 1500));
  expect(await h.budgetApp.relay.pending()).toBe(1);
  expect((await h.events()).filter((e) => e.event.brandId === brandId)).toEqual([]);

  await h.natsProxy!.restore();
  await h.drained(30_000);
  // Give a second relay cycle the chance to publish twice, then count.
  await new Promise((r) => setTimeout(r, 1000));
  const events = (await h.events()).filter((e) => e.event.brandId === brandId);
  expect(events).toHaveLength(1);
  expect(events[0].event).toMatchObject({ type: BudgetEventType.EXHAUSTED, spentMicros: 12n, limitMicros: 10n });
});
