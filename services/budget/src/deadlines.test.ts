import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { campaignId, startBudgetHarness, type BudgetHarness } from "@adbudget/testing";

let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

/** RecordSpend over the Connect protocol (JSON, HTTP/1.1), with the caller's deadline in the header. */
async function recordWithDeadline(body: Record<string, unknown>, timeoutMs: number) {
  const started = Date.now();
  const res = await fetch(`${h.budgetApp.server.url}/adbudget.budget.v1.BudgetService/RecordSpend`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "connect-timeout-ms": String(timeoutMs),
      authorization: `Bearer ${h.auth.adminToken}`,
    },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as { code?: string }, ms: Date.now() - started };
}

it("the server answers DEADLINE_EXCEEDED at the caller's deadline, and does not write an event whose deadline passed before its batch", async () => {
  const { brand } = await h.brands.createBrand({ name: "Deadlines" });
  const brandId = brand!.id;
  const campaign = campaignId();
  await h.budget.recordSpend({ eventId: "first", brandId, campaignId: campaign, amountMicros: 1n });
  // Hold the brand's period rows: the next batch waits on their locks.
  const blocker = new pg.Client({ connectionString: h.budgetDbUrl });
  await blocker.connect();
  await blocker.query("begin");
  await blocker.query("select 1 from budget_periods where brand_id = $1 for update", [brandId]);
  try {
    const a = h.budget.recordSpend({ eventId: "a", brandId, campaignId: campaign, amountMicros: 10n });
    await new Promise((r) => setTimeout(r, 150)); // a's batch has started and waits
    const b = await recordWithDeadline({ eventId: "b", brandId, campaignId: campaign, amountMicros: "100" }, 300);
    expect(b.json.code).toBe("deadline_exceeded");
    expect(b.ms).toBeLessThan(2000);
    await blocker.query("commit");
    expect((await a).duplicate).toBe(false);
  } finally {
    await blocker.end();
  }
  await new Promise((r) => setTimeout(r, 300));
  // b never reached the ledger: its retry records it, once.
  const { events } = await h.budget.listSpendEvents({ brandId });
  expect(events.map((e) => e.eventId).sort()).toEqual(["a", "first"]);
  const retry = await h.budget.recordSpend({ eventId: "b", brandId, campaignId: campaign, amountMicros: 100n });
  expect(retry.duplicate).toBe(false);
  expect(retry.status?.day?.spentMicros).toBe(111n);
});

it("a deadline that has passed when the call arrives is DEADLINE_EXCEEDED, for reads too", async () => {
  const res = await fetch(`${h.brandApp.server.url}/adbudget.brand.v1.BrandService/ListBrands`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      "connect-timeout-ms": "0",
      authorization: `Bearer ${h.auth.adminToken}`,
    },
    body: "{}",
  });
  expect(((await res.json()) as { code: string }).code).toBe("deadline_exceeded");
});
