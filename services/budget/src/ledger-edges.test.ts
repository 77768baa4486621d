import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, createClient, type ConnectError } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BudgetHarness, campaignId, rejection, startBudgetHarness } from "@adbudget/testing";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { formatDate, localDate } from "@adbudget/time";

let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

let n = 0;
async function newBrand(zone = "UTC"): Promise<string> {
  const { brand } = await h.brands.createBrand({ name: `Edges ${n++} ${Math.random()}`, timeZone: zone });
  return brand!.id;
}

async function ledger<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []): Promise<T[]> {
  const db = new pg.Client({ connectionString: h.budgetDbUrl });
  await db.connect();
  try {
    return (await db.query<T>(sql, values)).rows;
  } finally {
    await db.end();
  }
}

const fields = (err: ConnectError) =>
  err.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));

describe("event ids are unique per brand", () => {
  it("two brands may use the same id: each is recorded and each answer shows only its own brand's event", async () => {
    const [a, b] = [await newBrand(), await newBrand()];
    const ca = campaignId();
    const cb = campaignId();
    const first = await h.budget.recordSpend({ eventId: "imp-1", brandId: a, campaignId: ca, amountMicros: 5n });
    const second = await h.budget.recordSpend({ eventId: "imp-1", brandId: b, campaignId: cb, amountMicros: 999_999n });
    expect(first.duplicate).toBe(false);
    expect(second.duplicate).toBe(false);
    expect(second.event).toMatchObject({ brandId: b, campaignId: cb, amountMicros: 999_999n });
    expect(second.status?.day?.spentMicros).toBe(999_999n);
    const rows = await ledger<{ brand_id: string; amount: string }>(
      "select brand_id::text, amount_micros::text as amount from spend_events where event_id = 'imp-1' and brand_id = any($1::uuid[]) order by amount_micros",
      [[a, b]],
    );
    expect(rows).toEqual([
      { brand_id: a, amount: "5" },
      { brand_id: b, amount: "999999" },
    ]);
  });

  it("the same id with the same body is a duplicate; with another amount, campaign or occurred_at it is ALREADY_EXISTS and changes nothing", async () => {
    const brand = await newBrand();
    const campaign = campaignId();
    const at = timestampFromMs(h.now() - 60_000);
    const req = { eventId: "same", brandId: brand, campaignId: campaign, amountMicros: 70n, occurredAt: at };
    await h.budget.recordSpend(req);
    const retry = await h.budget.recordSpend(req);
    expect(retry.duplicate).toBe(true);
    expect(retry.event?.amountMicros).toBe(70n);
    for (const [changed, field] of [
      [{ amountMicros: 71n }, "amount_micros"],
      [{ campaignId: campaignId() }, "campaign_id"],
      [{ occurredAt: timestampFromMs(h.now() - 120_000) }, "occurred_at"],
    ] as const) {
      const err = await rejection(h.budget.recordSpend({ ...req, ...changed }));
      expect(err.code).toBe(Code.AlreadyExists);
      expect(err.rawMessage).toContain(field);
    }
    // In a batch too, beside a good event; and a second occurrence in the same batch.
    const { results } = await h.budget.recordSpendBatch({
      events: [
        { ...req, amountMicros: 1n },
        { ...req, eventId: "other" },
        { ...req, eventId: "other", amountMicros: 2n },
        req,
      ],
    });
    expect(results.map((r) => r.error?.code ?? (r.response?.duplicate ? "dup" : "ok"))).toEqual([
      Code.AlreadyExists,
      "ok",
      Code.AlreadyExists,
      "dup",
    ]);
    const { status } = await h.budget.getBudgetStatus({ brandId: brand });
    expect(status?.day?.spentMicros).toBe(140n);
  });

  it("a retry without occurred_at (it defaulted to now) is still the same event", async () => {
    const brand = await newBrand();
    const req = { eventId: "no-time", brandId: brand, campaignId: campaignId(), amountMicros: 3n };
    await h.budget.recordSpend(req);
    await new Promise((r) => setTimeout(r, 20));
    expect((await h.budget.recordSpend(req)).duplicate).toBe(true);
  });
});

describe("one caller's bad input never fails another caller's event", () => {
  it("an event_id with a NUL byte (JSON \\u0000) is INVALID_ARGUMENT, alone; 200 concurrent good callers all succeed", async () => {
    const brand = await newBrand();
    const campaign = campaignId();
    const json = createClient(
      BudgetService,
      createConnectTransport({ baseUrl: h.budgetApp.server.url, httpVersion: "1.1", interceptors: h.auth.admin }),
    );
    const calls = Array.from({ length: 200 }, (_, i) =>
      h.budget.recordSpend({ eventId: `good-${i}`, brandId: brand, campaignId: campaign, amountMicros: 1n }),
    );
    const bad = rejection(
      json.recordSpend({ eventId: "bad\u0000id", brandId: brand, campaignId: campaign, amountMicros: 1n }),
    );
    const settled = await Promise.allSettled(calls);
    const err = await bad;
    expect(err.code).toBe(Code.InvalidArgument);
    expect(fields(err)).toContain("event_id");
    expect(settled.filter((s) => s.status === "rejected")).toEqual([]);
    expect((await h.budget.getBudgetStatus({ brandId: brand })).status?.day?.spentMicros).toBe(200n);
  });

  it("in a batch, the event with a NUL or a control character fails alone and the good one beside it is recorded", async () => {
    const brand = await newBrand();
    const campaign = campaignId();
    const json = createClient(
      BudgetService,
      createConnectTransport({ baseUrl: h.budgetApp.server.url, httpVersion: "1.1", interceptors: h.auth.admin }),
    );
    const { results } = await json.recordSpendBatch({
      events: [
        { eventId: "x\u0000", brandId: brand, campaignId: campaign, amountMicros: 1n },
        { eventId: "fine", brandId: brand, campaignId: campaign, amountMicros: 2n },
        { eventId: "tab\there", brandId: brand, campaignId: campaign, amountMicros: 4n },
      ],
    });
    expect(results.map((r) => r.error?.code ?? "ok")).toEqual([Code.InvalidArgument, "ok", Code.InvalidArgument]);
    expect(results[0].error!.message).toContain("events[0].event_id");
    expect(results[2].error!.message).toContain("events[2].event_id");
    expect((await h.budget.getBudgetStatus({ brandId: brand })).status?.day?.spentMicros).toBe(2n);
  });

  it("a period total that would overflow int64 fails only the event that would overflow it, now and later", async () => {
    const full = await newBrand();
    const other = await newBrand();
    const campaign = campaignId();
    const max = 1_000_000_000_000_000n; // the largest amount one event may carry
    // 9,223 events of the maximum bring the brand's day and month to 9.223e18 (int64 ends at 9.2233720e18).
    for (let batch = 0; batch < 10; batch++) {
      const size = batch < 9 ? 1000 : 223;
      const { results } = await h.budget.recordSpendBatch({
        events: Array.from({ length: size }, (_, i) => ({
          eventId: `big-${batch}-${i}`,
          brandId: full,
          campaignId: campaign,
          amountMicros: max,
        })),
      });
      expect(results.every((r) => r.response !== undefined)).toBe(true);
    }
    for (let round = 0; round < 2; round++) {
      const { results } = await h.budget.recordSpendBatch({
        events: [
          { eventId: `neighbour-a-${round}`, brandId: other, campaignId: campaign, amountMicros: 10n },
          { eventId: `overflow-${round}`, brandId: full, campaignId: campaign, amountMicros: max },
          { eventId: `neighbour-b-${round}`, brandId: other, campaignId: campaign, amountMicros: 10n },
          { eventId: `still-fits-${round}`, brandId: full, campaignId: campaign, amountMicros: 1_000n },
        ],
      });
      expect(results.map((r) => r.error?.code ?? "ok")).toEqual(["ok", Code.InvalidArgument, "ok", "ok"]);
      expect(results[1].error!.message).toContain("events[1].amount_micros");
    }
    const stored = await ledger<{ n: string }>(
      "select count(*)::text as n from spend_events where brand_id = $1 and event_id like 'overflow-%'",
      [full],
    );
    expect(stored[0].n).toBe("0");
    expect((await h.budget.getBudgetStatus({ brandId: other })).status?.day?.spentMicros).toBe(40n);
    const unary = await rejection(
      h.budget.recordSpend({ eventId: "overflow-unary", brandId: full, campaignId: campaign, amountMicros: max }),
    );
    expect(unary.code).toBe(Code.InvalidArgument);
    expect(fields(unary)).toEqual(["amount_micros"]);
  }, 120_000);
});

describe("out-of-range input is INVALID_ARGUMENT before any work", () => {
  it.each([
    ["a Timestamp past year 9999 (binary gRPC can send any seconds)", { seconds: 2n ** 62n, nanos: 0 }],
    ["negative nanos", { seconds: 1_700_000_000n, nanos: -1 }],
    ["year 49", timestampFromMs(new Date(0).setUTCFullYear(49, 0, 1))],
    ["1969-12-31T23:59:59Z", timestampFromMs(-1000)],
  ])("occurred_at: %s", async (_name, occurredAt) => {
    const brand = await newBrand();
    const err = await rejection(
      h.budget.recordSpend({
        eventId: `range-${n++}`,
        brandId: brand,
        campaignId: campaignId(),
        amountMicros: 1n,
        occurredAt,
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(fields(err)).toEqual([expect.stringMatching(/^occurred_at/)]);
    expect(await ledger("select 1 from spend_events where brand_id = $1", [brand])).toEqual([]);
  });

  it("1970-01-01 itself is accepted and counted in its own day", async () => {
    const brand = await newBrand();
    const res = await h.budget.recordSpend({
      eventId: "epoch",
      brandId: brand,
      campaignId: campaignId(),
      amountMicros: 1n,
      occurredAt: timestampFromMs(0),
    });
    expect(formatDate(res.event!.day!)).toBe("1970-01-01");
  });
});

describe("a brand's zone is locked atomically with its first spend", () => {
  it("a zone change just before the first spend is the zone the spend is counted in, and locks", async () => {
    const brand = await newBrand("UTC");
    // The budget service has the brand cached in UTC...
    await h.budget.getBudgetStatus({ brandId: brand });
    // ...when the zone moves to Kathmandu (+05:45), and a spend follows at once.
    await h.brands.updateBrand({
      brand: { id: brand, timeZone: "Asia/Kathmandu" },
      updateMask: { paths: ["time_zone"] },
    });
    // 20:00 UTC yesterday is already tomorrow's 01:45 in Kathmandu.
    const today = localDate(h.now(), "UTC");
    const at = Date.UTC(today.year, today.month - 1, today.day - 1, 20);
    const res = await h.budget.recordSpend({
      eventId: "first",
      brandId: brand,
      campaignId: campaignId(),
      amountMicros: 1n,
      occurredAt: timestampFromMs(at),
    });
    expect(formatDate(res.event!.day!)).toBe(formatDate(localDate(at, "Asia/Kathmandu")));
    expect((await h.brands.getBrand({ id: brand })).brand?.timeZoneLocked).toBe(true);
    const err = await rejection(
      h.brands.updateBrand({ brand: { id: brand, timeZone: "UTC" }, updateMask: { paths: ["time_zone"] } }),
    );
    expect(err.code).toBe(Code.FailedPrecondition);
    expect((await h.brands.getBrand({ id: brand })).brand?.timeZone).toBe("Asia/Kathmandu");
    const status = await h.budget.getBudgetStatus({ brandId: brand });
    expect(formatDate(status.status!.day!.periodStart!)).toBe(formatDate(localDate(h.now(), "Asia/Kathmandu")));
  });
});
