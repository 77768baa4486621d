import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BudgetHarness, campaignId, startBudgetHarness, testZone } from "@adbudget/testing";

/**
 * Answers over Connect JSON as a curl or browser caller meets them: a plain HTTP/1.1 POST with
 * `content-type: application/json`, the answer read as JSON text. The Connect clients of the
 * other tests speak binary protobuf over the Connect protocol by default (connect-node), which
 * never writes an Any as JSON: only a request like this one does.
 */
let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

async function postJson(method: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${h.budgetApp.server.url}/adbudget.budget.v1.BudgetService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${h.auth.adminToken}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

interface JsonResult {
  response?: { duplicate?: boolean; event?: { eventId: string; amountMicros: string } };
  error?: {
    code: number;
    message: string;
    details?: { "@type": string; fieldViolations?: { field: string; description: string }[] }[];
  };
}

describe("RecordSpendBatch over Connect JSON", () => {
  it("answers a bad event's error with its field violations, and records the innocent events beside it", async () => {
    const { brand } = await h.brands.createBrand({ name: `JSON ${Math.random()}`, timeZone: testZone() });
    const brandId = brand!.id;
    const campaign = campaignId();
    const { status, json } = await postJson("RecordSpendBatch", {
      events: [
        { eventId: "fine-1", brandId, campaignId: campaign, amountMicros: "2" },
        { eventId: "nul\u0000id", brandId, campaignId: campaign, amountMicros: "1" },
        { eventId: "fine-2", brandId, campaignId: campaign, amountMicros: "5" },
        { eventId: "negative", brandId, campaignId: campaign, amountMicros: "-3" },
      ],
    });
    expect(json.code).toBeUndefined(); // not a Connect error: the call succeeded
    expect(status).toBe(200);
    const results = json.results as JsonResult[];
    expect(results.map((r) => (r.response ? "ok" : r.error?.code))).toEqual(["ok", 3, "ok", 3]);
    expect(results[0].response!.event).toMatchObject({ eventId: "fine-1", amountMicros: "2" });
    expect(results[2].response!.event).toMatchObject({ eventId: "fine-2", amountMicros: "5" });
    // Each error carries its google.rpc.BadRequest, written as JSON with its type.
    expect(results[1].error!.details).toEqual([
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [expect.objectContaining({ field: "events[1].event_id" })],
      },
    ]);
    expect(results[3].error!.details).toEqual([
      {
        "@type": "type.googleapis.com/google.rpc.BadRequest",
        fieldViolations: [expect.objectContaining({ field: "events[3].amount_micros" })],
      },
    ]);
    const { status: read } = await h.budget.getBudgetStatus({ brandId });
    expect(read!.day!.spentMicros).toBe(7n);
  });
});

describe("a Connect JSON request naming what the server does not know", () => {
  it("is refused, INVALID_ARGUMENT, and changes nothing: an unknown enum value, a misspelled field", async () => {
    const { brand } = await h.brands.createBrand({ name: `JSON strict ${Math.random()}`, timeZone: testZone() });
    const brandId = brand!.id;
    const first = await postJson("SetBudget", { brandId, dailyLimitMicros: "5", pacingMode: "PACING_MODE_PACED" });
    expect(first.status).toBe(200);
    for (const body of [
      { brandId, pacingMode: "PACING_MODE_ACCELERATD" },
      { brandId, pacingMode: "PACING_MODE_ACCELERATED " },
      { brandId, dailyLimitMicros: "7", dailyLimitMicross: "9" },
    ]) {
      const { status, json } = await postJson("SetBudget", body);
      expect([status, json.code], JSON.stringify(body)).toEqual([400, "invalid_argument"]);
    }
    const { budget } = await h.budget.getBudget({ brandId });
    expect([budget?.dailyLimitMicros, budget?.pacingMode]).toEqual([5n, 1]);
    expect((await h.budget.listBudgetChanges({ brandId })).changes).toHaveLength(1);
  });
});
