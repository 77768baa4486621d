import { afterAll, beforeAll, expect, it } from "vitest";
import { BudgetEventCause, BudgetEventType } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { type BudgetHarness, campaignId, startBudgetHarness, testZone } from "@adbudget/testing";

let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

async function newBrand(): Promise<string> {
  const { brand } = await h.brands.createBrand({ name: `Limits ${Math.random()}`, timeZone: testZone() });
  return brand!.id;
}

async function eventsOf(brandId: string) {
  await h.drained();
  return (await h.events()).filter((e) => e.event.brandId === brandId);
}

it("lowering a limit to the spend exhausts, raising it above replenishes, each published once", async () => {
  const brand = await newBrand();
  await h.budget.setBudget({ brandId: brand, dailyLimitMicros: 10_000_000n });
  await h.budget.recordSpend({
    eventId: `l1-${brand}`,
    brandId: brand,
    campaignId: campaignId(),
    amountMicros: 6_000_000n,
  });
  expect(await eventsOf(brand)).toEqual([]);

  const lowered = await h.budget.setBudget({ brandId: brand, dailyLimitMicros: 6_000_000n });
  expect(lowered.status?.day).toMatchObject({ exhausted: true, remainingMicros: 0n, spentMicros: 6_000_000n });
  let events = await eventsOf(brand);
  expect(events.map((e) => [e.subject, e.event.type, e.event.cause])).toEqual([
    [`${h.prefix}.budget.exhausted.${brand}`, BudgetEventType.EXHAUSTED, BudgetEventCause.LIMIT_CHANGE],
  ]);
  expect(events[0].msgId).toBe(events[0].event.eventId);

  // Same limit again: nothing changes, nothing is published.
  await h.budget.setBudget({ brandId: brand, dailyLimitMicros: 6_000_000n });
  expect(await eventsOf(brand)).toHaveLength(1);

  const raised = await h.budget.setBudget({ brandId: brand, dailyLimitMicros: 8_000_000n });
  expect(raised.status?.day).toMatchObject({ exhausted: false, remainingMicros: 2_000_000n });
  events = await eventsOf(brand);
  expect(events.map((e) => e.event.type)).toEqual([BudgetEventType.EXHAUSTED, BudgetEventType.REPLENISHED]);
  expect(events[1].subject).toBe(`${h.prefix}.budget.replenished.${brand}`);
  expect(events[1].event).toMatchObject({ spentMicros: 6_000_000n, limitMicros: 8_000_000n });
  expect(events[1].event.sequence).toBeGreaterThan(events[0].event.sequence);

  // Removing the limit (named in the mask, left out = unlimited) keeps it replenished; spend past
  // the old limit is fine.
  await h.budget.setBudget({ brandId: brand, updateMask: { paths: ["daily_limit_micros"] } });
  const spent = await h.budget.recordSpend({
    eventId: `l2-${brand}`,
    brandId: brand,
    campaignId: campaignId(),
    amountMicros: 50_000_000n,
  });
  expect(spent.status?.day?.exhausted).toBe(false);
  expect(spent.status?.day?.limitMicros).toBeUndefined();
  expect(spent.status?.day?.remainingMicros).toBeUndefined();
  expect(await eventsOf(brand)).toHaveLength(2);
});

it("a limit of 0 is exhausted before any spend, and spend is still recorded as overspend", async () => {
  const brand = await newBrand();
  const set = await h.budget.setBudget({ brandId: brand, dailyLimitMicros: 0n, monthlyLimitMicros: 0n });
  expect(set.status?.day).toMatchObject({ exhausted: true, spentMicros: 0n, limitMicros: 0n });
  expect(set.status?.month).toMatchObject({ exhausted: true });
  const res = await h.budget.recordSpend({
    eventId: `z-${brand}`,
    brandId: brand,
    campaignId: campaignId(),
    amountMicros: 5n,
  });
  expect(res.duplicate).toBe(false);
  expect(res.status?.day).toMatchObject({ spentMicros: 5n, overspendMicros: 5n, exhausted: true });
  const events = await eventsOf(brand);
  // Day and month, each exhausted once (by the limit change; the spend changes nothing more).
  expect(events.map((e) => [e.event.period?.kind, e.event.type]).sort()).toEqual([
    [1, BudgetEventType.EXHAUSTED],
    [2, BudgetEventType.EXHAUSTED],
  ]);
});

it("spend crossing the limit publishes exhausted once, with the spend as cause", async () => {
  const brand = await newBrand();
  await h.budget.setBudget({ brandId: brand, dailyLimitMicros: 3n });
  for (let i = 0; i < 5; i++) {
    await h.budget.recordSpend({
      eventId: `c${i}-${brand}`,
      brandId: brand,
      campaignId: campaignId(),
      amountMicros: 1n,
    });
  }
  const events = await eventsOf(brand);
  expect(events).toHaveLength(1);
  expect(events[0].event).toMatchObject({
    type: BudgetEventType.EXHAUSTED,
    cause: BudgetEventCause.SPEND,
    spentMicros: 3n,
    limitMicros: 3n,
  });
  const { budget } = await h.budget.getBudget({ brandId: brand });
  expect(budget?.dailyLimitMicros).toBe(3n);
  expect(budget?.monthlyLimitMicros).toBeUndefined();
});

it("exposes Prometheus metrics: RPCs by code, spend recorded, outbox pending", async () => {
  const brand = await newBrand();
  const campaign = campaignId();
  await h.budget.recordSpend({ eventId: `m-${brand}`, brandId: brand, campaignId: campaign, amountMicros: 7n });
  await h.budget.recordSpend({ eventId: `m-${brand}`, brandId: brand, campaignId: campaign, amountMicros: 7n });
  await h.budget
    .recordSpend({ eventId: "", brandId: brand, campaignId: campaignId(), amountMicros: 7n })
    .catch(() => undefined);
  const text = await (await fetch(`http://127.0.0.1:${h.budgetApp.server.metricsPort}/metrics`)).text();
  const value = (line: string) =>
    Number(
      text
        .split("\n")
        .find((l) => l.startsWith(line))
        ?.split(" ")
        .at(-1),
    );
  expect(
    value('adbudget_rpc_requests_total{rpc="adbudget.budget.v1.BudgetService/RecordSpend",code="OK"'),
  ).toBeGreaterThanOrEqual(2);
  expect(
    value('adbudget_rpc_requests_total{rpc="adbudget.budget.v1.BudgetService/RecordSpend",code="InvalidArgument"'),
  ).toBeGreaterThanOrEqual(1);
  expect(value('adbudget_spend_events_total{result="duplicate"')).toBeGreaterThanOrEqual(1);
  expect(text).toMatch(/^adbudget_outbox_pending\{service="budget"\} \d+$/m);
  expect(text).toContain("adbudget_rpc_duration_seconds_bucket");
});
