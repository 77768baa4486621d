import { Code } from "@connectrpc/connect";
import pg from "pg";
import { type BudgetHarness, campaignId, rejection, startBudgetHarness } from "@adbudget/testing";
import { afterAll, beforeAll, expect, it } from "vitest";
import { formatDate, periodsOf } from "@adbudget/time";
import { BudgetEventType } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";

let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

it("64 concurrent writers with 10% duplicate retries: totals == ledger == expected, one exhausted event per exhausted period", async () => {
  const zones = [
    "UTC",
    "America/New_York",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Europe/London",
    "Australia/Lord_Howe",
  ];
  const brands: { id: string; zone: string; limit: bigint }[] = [];
  for (const [i, zone] of zones.entries()) {
    const { brand } = await h.brands.createBrand({ name: `Concurrent ${i}`, timeZone: zone });
    // Half the brands get a limit the load will cross, half one it will not.
    const limit = i % 2 === 0 ? 50_000_000n : 10_000_000_000n;
    await h.budget.setBudget({ brandId: brand!.id, dailyLimitMicros: limit, monthlyLimitMicros: limit * 100n });
    brands.push({ id: brand!.id, zone, limit });
  }

  const writers = 64;
  const perWriter = 40;
  const campaign = campaignId();
  const sent = new Map<string, { brandId: string; amount: bigint; at: number }>();
  let duplicates = 0;
  let seenDuplicateFlags = 0;
  await Promise.all(
    Array.from({ length: writers }, async (_, w) => {
      for (let n = 0; n < perWriter; n++) {
        const brand = brands[(w + n) % brands.length];
        const eventId = `w${w}-n${n}`;
        const amount = BigInt(1 + ((w * 7919 + n * 104729) % 997)) * 1000n;
        const at = h.now();
        const req = {
          eventId,
          brandId: brand.id,
          campaignId: campaign,
          amountMicros: amount,
          occurredAt: { seconds: BigInt(Math.floor(at / 1000)), nanos: 0 },
        };
        const first = await h.budget.recordSpend(req);
        expect(first.duplicate).toBe(false);
        sent.set(eventId, { brandId: brand.id, amount, at: Math.floor(at / 1000) * 1000 });
        if ((w + n) % 10 === 0) {
          // A retry (as after a lost response): counted once, answered with the original.
          const retry = await h.budget.recordSpend(req);
          duplicates++;
          if (retry.duplicate) seenDuplicateFlags++;
          expect(retry.event?.amountMicros).toBe(amount);
        } else if ((w + n) % 10 === 5) {
          // The same id with another body is refused and changes nothing.
          const err = await rejection(h.budget.recordSpend({ ...req, amountMicros: amount + 1n }));
          expect(err.code).toBe(Code.AlreadyExists);
        }
      }
    }),
  );
  expect(seenDuplicateFlags).toBe(duplicates);

  // Expected totals per brand and local day, from what the test sent.
  const expected = new Map<string, bigint>();
  for (const e of sent.values()) {
    const zone = brands.find((b) => b.id === e.brandId)!.zone;
    const key = `${e.brandId}|${formatDate(periodsOf(e.at, zone).day)}`;
    expected.set(key, (expected.get(key) ?? 0n) + e.amount);
  }

  // Period totals (API) == expected == ledger sum (SQL over the facts).
  const db = new pg.Client({ connectionString: h.budgetDbUrl });
  await db.connect();
  try {
    const ledger = await db.query<{ brand_id: string; day: string; total: string; n: string }>(
      "select brand_id::text, day::text, sum(amount_micros)::text as total, count(*)::text as n from spend_events group by 1, 2",
    );
    expect(ledger.rows.reduce((s, r) => s + Number(r.n), 0)).toBe(writers * perWriter);
    const periods = await db.query<{ brand_id: string; day: string; spent: string }>(
      "select brand_id::text, period_start::text as day, spent_micros::text as spent from budget_periods where kind = 1 and spent_micros > 0",
    );
    const fromLedger = new Map(ledger.rows.map((r) => [`${r.brand_id}|${r.day}`, BigInt(r.total)]));
    const fromPeriods = new Map(periods.rows.map((r) => [`${r.brand_id}|${r.day}`, BigInt(r.spent)]));
    expect(fromLedger).toEqual(expected);
    expect(fromPeriods).toEqual(expected);
  } finally {
    await db.end();
  }

  // Exactly one exhausted event per exhausted period, none for the others.
  await h.drained();
  const events = (await h.events()).filter(
    (e) => e.event.type === BudgetEventType.EXHAUSTED && e.event.period?.kind === PeriodKind.DAY,
  );
  const exhaustedPeriods = [...expected.entries()].filter(
    ([key, total]) => total >= brands.find((b) => key.startsWith(b.id))!.limit,
  );
  expect(exhaustedPeriods.length).toBeGreaterThanOrEqual(3);
  const perPeriod = new Map<string, number>();
  for (const e of events) {
    const p = e.event.period!.start!;
    const key = `${e.event.brandId}|${formatDate(p)}`;
    perPeriod.set(key, (perPeriod.get(key) ?? 0) + 1);
  }
  expect([...perPeriod.keys()].sort()).toEqual(exhaustedPeriods.map(([k]) => k).sort());
  expect([...perPeriod.values()].every((n) => n === 1)).toBe(true);
  // Sequence numbers increase per brand in publication order.
  for (const b of brands) {
    const seqs = (await h.events()).filter((e) => e.event.brandId === b.id).map((e) => e.event.sequence);
    expect([...seqs].sort((x, y) => (x < y ? -1 : 1))).toEqual(seqs);
  }
});
