import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDays, formatDate, localDate, startOfDay } from "@adbudget/time";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { blockedOnLock, campaignId, startBudgetHarness, testZone, type BudgetHarness } from "@adbudget/testing";
import { listBudgetChanges } from "./budget-changes.js";
import { BudgetStore } from "./budget-store.js";

/**
 * Interleavings of SetBudget forced against the real database: a second connection holds a row
 * lock the call needs, the test waits until PostgreSQL reports the call's statement waiting on it
 * (pg_stat_activity), then lets go. No sleeps: each step waits for the state it needs.
 */
let h: BudgetHarness;
let store: BudgetStore;
let blocker: pg.Client;
beforeAll(async () => {
  h = await startBudgetHarness();
  store = new BudgetStore(h.budgetApp.pool, h.prefix);
  blocker = new pg.Client({ connectionString: h.budgetDbUrl });
  await blocker.connect();
});
afterAll(async () => {
  await blocker?.end();
  await h?.close();
});

const zone = () => testZone();
const actor = (requestId: string) => ({ principal: "test", requestId });

/**
 * Waits until a session of the budget database waits on a lock while running the statement
 * that contains `statement` (pg_stat_activity): counting every waiter instead could be met by a
 * session of the service's own that waits on something else for a moment.
 */
const waitingIn = (statement: string) => blockedOnLock(h.budgetApp.pool, statement);

async function newBrand(): Promise<string> {
  return (await h.brands.createBrand({ name: `Race ${Math.random()}`, timeZone: zone() })).brand!.id;
}

describe("concurrent SetBudget calls of a brand", () => {
  it("two first calls serialize on the budget row: the second records the first's limits as its before", async () => {
    const brandId = await newBrand();
    // Spend first: the brand has period rows but no budget yet.
    await h.budget.recordSpend({ eventId: "e", brandId, campaignId: campaignId(), amountMicros: 1n });
    // The blocker holds the period rows: the first call stops there, after its budget row write.
    await blocker.query("begin");
    await blocker.query("select 1 from budget_periods where brand_id = $1 for update", [brandId]);
    const first = store.setBudget(brandId, { daily: 10n }, zone(), h.now, actor("first"));
    await waitingIn("insert into budget_periods as bp");
    const second = store.setBudget(brandId, { daily: 20n }, zone(), h.now, actor("second"));
    await waitingIn("insert into budgets (");
    await blocker.query("commit");
    await Promise.all([first, second]);
    const { changes } = await listBudgetChanges(h.budgetApp.pool, { brandId, pageToken: "", limit: 10 });
    expect(changes.reverse().map((c) => [c.requestId, c.before.daily, c.after.daily])).toEqual([
      ["first", null, 10n],
      ["second", 10n, 20n],
    ]);
    expect((await store.getBudget(brandId)).daily).toBe(20n);
  });

  it("a call that waited on the lock across the local midnight sets the new day's limit, not the ended day's", async () => {
    const brandId = await newBrand();
    const today = localDate(h.now(), zone());
    const day = addDays(today, -2);
    const lastSecond = startOfDay(addDays(day, 1), zone()) - 1000;
    // The budget as it stood that evening: 100 a day (that day's row has it).
    await store.setBudget(brandId, { daily: 100n }, zone(), () => lastSecond - 3_600_000, actor("evening"));
    await blocker.query("begin");
    await blocker.query("select 1 from budgets where brand_id = $1 for update", [brandId]);
    // A change sent a second before midnight waits on the lock until after it.
    let now = lastSecond;
    const late = store.setBudget(brandId, { daily: 5n }, zone(), () => now, actor("late"));
    await waitingIn("from budgets where brand_id = $1 for update");
    now = lastSecond + 2000;
    await blocker.query("commit");
    const r = await late;
    expect(formatDate(localDate(r.asOfMs, zone()))).toBe(formatDate(addDays(day, 1)));
    expect(r.day).toMatchObject({ start: formatDate(addDays(day, 1)), limit: 5n });
    const { periods } = await h.budget.listBudgetPeriods({ brandId, kind: PeriodKind.DAY });
    const limitOf = (d: typeof day) => periods.find((p) => formatDate(p.period!.start!) === formatDate(d))?.limitMicros;
    expect(limitOf(day)).toBe(100n); // the ended day keeps the limit that was in force
    expect(limitOf(addDays(day, 1))).toBe(5n);
  });
});
