import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import pg from "pg";
import { Code } from "@connectrpc/connect";
import { type BudgetHarness, campaignId, rejection, startBudgetHarness } from "@adbudget/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";

let h: BudgetHarness;
let brandId: string;
beforeAll(async () => {
  h = await startBudgetHarness();
  brandId = (await h.brands.createBrand({ name: "Validation" })).brand!.id;
});
afterAll(async () => {
  await h?.close();
});

const unknownBrand = "01900000-0000-7000-8000-0000000000ff";
const good = () => ({ eventId: `ok-${Math.random()}`, brandId, campaignId: campaignId(), amountMicros: 1_000n });

describe("RecordSpend refuses bad input with the right code and stores nothing", () => {
  const cases: [string, () => Record<string, unknown>, Code, string | undefined][] = [
    ["amount 0", () => ({ ...good(), amountMicros: 0n }), Code.InvalidArgument, "amount_micros"],
    ["negative amount", () => ({ ...good(), amountMicros: -5n }), Code.InvalidArgument, "amount_micros"],
    [
      "amount over the maximum",
      () => ({ ...good(), amountMicros: 1_000_000_000_000_001n }),
      Code.InvalidArgument,
      "amount_micros",
    ],
    ["missing event_id", () => ({ ...good(), eventId: "" }), Code.InvalidArgument, "event_id"],
    ["malformed brand id", () => ({ ...good(), brandId: "acme" }), Code.InvalidArgument, "brand_id"],
    [
      "far-future occurred_at",
      () => ({ ...good(), occurredAt: timestampFromMs(h.now() + 3_600_000) }),
      Code.InvalidArgument,
      "occurred_at",
    ],
    ["unknown brand", () => ({ ...good(), brandId: unknownBrand }), Code.NotFound, undefined],
  ];

  it.each(cases)("%s", async (_name, req, code, field) => {
    const body = req();
    const err = await rejection(h.budget.recordSpend(body));
    expect(err.code).toBe(code);
    if (field)
      expect(err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field))).toContain(field);
    // Nothing in the ledger under that id, whatever brand the body named.
    const db = new pg.Client({ connectionString: h.budgetDbUrl });
    await db.connect();
    try {
      expect((await db.query("select 1 from spend_events where event_id = $1", [body.eventId])).rows).toEqual([]);
    } finally {
      await db.end();
    }
  });

  it("accepts occurred_at slightly in the future (clock skew)", async () => {
    const res = await h.budget.recordSpend({ ...good(), occurredAt: timestampFromMs(h.now() + 60_000) });
    expect(res.duplicate).toBe(false);
  });
});

describe("RecordSpendBatch", () => {
  it("answers each event alone: bad ones fail with their code, good ones are stored", async () => {
    const ok1 = good();
    const ok2 = good();
    const { results } = await h.budget.recordSpendBatch({
      events: [
        ok1,
        { ...good(), amountMicros: 0n },
        { ...good(), brandId: unknownBrand },
        ok2,
        { ...good(), occurredAt: timestampFromMs(h.now() + 86_400_000) },
        ok1,
      ],
    });
    expect(results.map((r) => (r.error ? r.error.code : r.response?.duplicate ? "dup" : "ok"))).toEqual([
      "ok",
      Code.InvalidArgument,
      Code.NotFound,
      "ok",
      Code.InvalidArgument,
      "dup",
    ]);
    const detail = results[1].error!.details[0];
    expect(detail.typeUrl).toBe("type.googleapis.com/google.rpc.BadRequest");
    expect(results[1].error!.message).toContain("events[1].amount_micros");
    const { events } = await h.budget.listSpendEvents({ brandId, pageSize: 1000 });
    const ids = events.map((e) => e.eventId);
    expect(ids).toContain(ok1.eventId);
    expect(ids).toContain(ok2.eventId);
    expect(results[3].response?.status?.day?.spentMicros).toBeGreaterThanOrEqual(2_000n);
  });

  it("refuses an empty batch and one over 1000 events", async () => {
    expect((await rejection(h.budget.recordSpendBatch({ events: [] }))).code).toBe(Code.InvalidArgument);
    const big = Array.from({ length: 1001 }, good);
    expect((await rejection(h.budget.recordSpendBatch({ events: big }))).code).toBe(Code.InvalidArgument);
  });
});

describe("other RPCs", () => {
  it("unknown brand -> NOT_FOUND; brand without a budget -> GetBudget NOT_FOUND, status unlimited", async () => {
    expect((await rejection(h.budget.getBudgetStatus({ brandId: unknownBrand }))).code).toBe(Code.NotFound);
    expect((await rejection(h.budget.setBudget({ brandId: unknownBrand, dailyLimitMicros: 1n }))).code).toBe(
      Code.NotFound,
    );
    const { brand } = await h.brands.createBrand({ name: "No budget" });
    expect((await rejection(h.budget.getBudget({ brandId: brand!.id }))).code).toBe(Code.NotFound);
    const { status } = await h.budget.getBudgetStatus({ brandId: brand!.id });
    expect(status?.day).toMatchObject({ spentMicros: 0n, exhausted: false });
    expect(status?.day?.limitMicros).toBeUndefined();
  });

  it("negative limits and page sizes over 1000 are INVALID_ARGUMENT", async () => {
    expect((await rejection(h.budget.setBudget({ brandId, dailyLimitMicros: -1n }))).code).toBe(Code.InvalidArgument);
    expect((await rejection(h.budget.listSpendEvents({ brandId, pageSize: 5000 }))).code).toBe(Code.InvalidArgument);
  });

  it("spend of an archived brand is recorded and flagged", async () => {
    const { brand } = await h.brands.createBrand({ name: "Archived spender" });
    await h.brands.archiveBrand({ id: brand!.id });
    const res = await h.budget.recordSpend({ ...good(), brandId: brand!.id });
    expect(res.event?.brandArchived).toBe(true);
  });
});
