import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { addDays, formatDate, localDate, startOfDay } from "@adbudget/time";
import { campaignId, startBudgetHarness, testZone, type BudgetHarness } from "@adbudget/testing";
import { BudgetStore } from "./budget-store.js";

/**
 * Issue 20, finding 4: a limit never changes on a period whose end has passed. A clock (or a
 * reconciliation pass) that opens yesterday after a limit changed today used to give yesterday
 * the new limit and publish an event for it; a late spend for an ended period without a row
 * created it with today's limit. The history of the budget (budget_changes) is written here by
 * the store itself at an instant of yesterday, as SetBudget would have then.
 */
let h: BudgetHarness;
let clock: ReturnType<typeof createClient<typeof BudgetClockService>>;
let store: BudgetStore;
beforeAll(async () => {
  h = await startBudgetHarness();
  clock = createClient(
    BudgetClockService,
    createGrpcTransport({
      baseUrl: h.budgetApp.server.url,
      interceptors: await h.auth.as({ sub: "test:clocks", role: "clocks" }),
    }),
  );
  store = new BudgetStore(h.budgetApp.pool, h.prefix);
});
afterAll(async () => {
  await h?.close();
});

const zone = () => testZone();
/** The clocks, as the period-opening calls name them. */
const CLOCKS = { principal: "service:clocks", requestId: "" };
let n = 0;

/**
 * A brand whose daily limit was set to `limit` two days ago at noon (its budget's history: that
 * SetBudget opened that day's row, and nobody opened yesterday's), and `noon`, yesterday's.
 */
async function brandWithYesterdaysLimit(limit: bigint) {
  const brandId = (await h.brands.createBrand({ name: `Ended ${++n}`, timeZone: zone() })).brand!.id;
  const yesterday = addDays(localDate(h.now(), zone()), -1);
  const noonBefore = startOfDay(addDays(yesterday, -1), zone()) + 12 * 3_600_000;
  await store.setBudget(brandId, { daily: limit, monthly: null }, zone(), () => noonBefore, {
    principal: "test",
    requestId: "two-days-ago",
  });
  return { brandId, yesterday, noon: startOfDay(yesterday, zone()) + 12 * 3_600_000 };
}

async function dayPeriod(brandId: string, day: string) {
  const { periods } = await h.budget.listBudgetPeriods({ brandId, kind: PeriodKind.DAY });
  return periods.find((p) => formatDate(p.period!.start!) === day);
}

describe("a period whose end has passed", () => {
  it("a late spend creating its row takes the limit in force when it ended, not today's", async () => {
    const { brandId, yesterday, noon } = await brandWithYesterdaysLimit(100n);
    await h.budget.setBudget({ brandId, dailyLimitMicros: 1_000n });
    // No row for yesterday yet (nobody opened it): the late spend creates it.
    expect(await dayPeriod(brandId, formatDate(yesterday))).toBeUndefined();
    await h.budget.recordSpend({
      eventId: `late-${brandId}`,
      brandId,
      campaignId: campaignId(),
      amountMicros: 150n,
      occurredAt: timestampFromMs(noon),
    });
    expect(await dayPeriod(brandId, formatDate(yesterday))).toMatchObject({
      spentMicros: 150n,
      limitMicros: 100n,
      exhausted: true,
    });
    const today = await h.budget.getBudgetStatus({ brandId });
    expect(today.status?.day).toMatchObject({ spentMicros: 0n, limitMicros: 1_000n, exhausted: false });
  });

  it("opening it again (a late clock) keeps its limit and publishes nothing", async () => {
    const { brandId, yesterday, noon } = await brandWithYesterdaysLimit(100n);
    await store.openPeriod(brandId, PeriodKind.DAY, formatDate(yesterday), zone(), noon, CLOCKS); // the clock, on time, yesterday
    await h.budget.recordSpend({
      eventId: `ended-${brandId}`,
      brandId,
      campaignId: campaignId(),
      amountMicros: 50n,
      occurredAt: timestampFromMs(noon),
    });
    await h.budget.setBudget({ brandId, dailyLimitMicros: 40n });
    const opened = await clock.openBudgetPeriod({ brandId, period: { kind: PeriodKind.DAY, start: yesterday } });
    expect(opened.status).toMatchObject({ spentMicros: 50n, limitMicros: 100n, exhausted: false });
    expect(await dayPeriod(brandId, formatDate(yesterday))).toMatchObject({ limitMicros: 100n, exhausted: false });
    await h.drained();
    const forYesterday = (await h.events()).filter(
      (e) => e.event.brandId === brandId && formatDate(e.event.period!.start!) === formatDate(yesterday),
    );
    expect(forYesterday).toEqual([]);
  });

  it("opening it when it never had a row answers the limit in force at its end, and writes nothing", async () => {
    const { brandId, yesterday } = await brandWithYesterdaysLimit(0n);
    await h.budget.setBudget({ brandId, dailyLimitMicros: 500n });
    const opened = await clock.openBudgetPeriod({ brandId, period: { kind: PeriodKind.DAY, start: yesterday } });
    expect(opened.status).toMatchObject({ spentMicros: 0n, limitMicros: 0n, exhausted: true });
    expect(await dayPeriod(brandId, formatDate(yesterday))).toBeUndefined();
  });
});

describe("OpenCurrentPeriods (reconciliation's read)", () => {
  it("opens the current day and month by the budget service's clock, and answers each capped campaign's state", async () => {
    const { brandId } = await brandWithYesterdaysLimit(100n);
    const truth = await clock.openCurrentPeriods({ brandId });
    const today = localDate(h.now(), zone());
    expect(formatDate(truth.day!.periodStart!)).toBe(formatDate(today));
    expect(formatDate(truth.month!.periodStart!)).toBe(formatDate({ ...today, day: 1 }));
    expect(truth.day).toMatchObject({ limitMicros: 100n, exhausted: false });
    expect(truth.timeZone).toBe(zone());
    expect(truth.caps).toEqual([]);
  });
});
