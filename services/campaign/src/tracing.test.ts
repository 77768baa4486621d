import { afterAll, beforeAll, expect, it } from "vitest";
import { initTracing } from "@adbudget/kit";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { eventually, startSystemInProcess, type SystemHarness } from "@adbudget/testing";

// This file's process traces into memory: every service of the harness runs in it.
const spans = initTracing("memory", "test")!;
let h: SystemHarness;
beforeAll(async () => {
  h = await startSystemInProcess();
});
afterAll(async () => {
  await h?.close();
});

it("one trace follows a RecordSpend through JetStream to the campaign's pause", async () => {
  const { brand } = await h.brands.createBrand({ name: "Traced brand" });
  const brandId = brand!.id;
  await h.budget.setBudget({ brandId, dailyLimitMicros: 10n });
  const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Traced" });
  await h.budget.recordSpend({ eventId: `warm-${brandId}`, brandId, campaignId: campaign!.id, amountMicros: 1n });
  spans.reset();

  await h.budget.recordSpend({ eventId: `cross-${brandId}`, brandId, campaignId: campaign!.id, amountMicros: 20n });
  await eventually(
    async () =>
      (await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.pauseReasons.includes(
        PauseReason.DAILY_BUDGET_EXHAUSTED,
      ),
    15_000,
    "paused",
  );

  const finished = spans.getFinishedSpans();
  const record = finished.find((s) => s.name === "adbudget.budget.v1.BudgetService/RecordSpend");
  expect(record).toBeDefined();
  const consume = finished.find((s) => s.name === `consume ${h.prefix}.budget.exhausted.${brandId}`);
  expect(consume).toBeDefined();
  expect(consume!.spanContext().traceId).toBe(record!.spanContext().traceId);
  // The outbox row carried the context: the consumer span has a parent, in the same trace, that
  // descends from the RecordSpend span (walking up the finished spans of this trace).
  const parent = consume!.parentSpanContext;
  expect(parent).toBeDefined();
  expect(parent!.traceId).toBe(record!.spanContext().traceId);
  const byId = new Map(finished.map((s) => [s.spanContext().spanId, s]));
  const ancestors: string[] = [];
  for (let id: string | undefined = parent!.spanId; id !== undefined; id = byId.get(id)?.parentSpanContext?.spanId)
    ancestors.push(id);
  expect(ancestors).toContain(record!.spanContext().spanId);
});
