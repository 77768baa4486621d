import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  eventually,
  intlWallClock,
  startSystemInProcess,
  testBaseNow,
  testZone,
  type SystemHarness,
} from "@adbudget/testing";
import { formatDate, monthStart, nextDayStart, periodsOf } from "@adbudget/time";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { createActivities } from "./activities.js";

/**
 * The calendar check's crossing (scripts/test-calendar.sh): the services' clock set a few
 * seconds before a local day boundary of a brand's zone, and the boundary crossed for real —
 * spend on both sides attributed to the right day and month, a period exhausted before it, the
 * campaign it paused serving again at the first instant of the new day (or month) through the
 * reset path the clocks worker takes (its activities, calling both clock services), and the
 * limits of the ended period not rewritten after it.
 *
 * Which boundary: from the calendar script (TEST_NOW, ten seconds before a named boundary, with
 * TEST_ZONE and TEST_BOUNDARY), the first local day start after TEST_NOW in TEST_ZONE; run on its
 * own, the next 1st of a month in Asia/Kathmandu (+05:45: a midnight that is no UTC hour). Its
 * dates are checked against Intl directly, not only against the time functions under test.
 */

interface Boundary {
  zone: string;
  /** The first instant of the new local day. */
  at: number;
  /** What the calendar script named it (first-of-month, new-year, dst-day-without-midnight), or "day". */
  what: string;
}

/** The boundary this run crosses (see the file's comment). */
function boundaryUnderTest(): Boundary {
  if ((process.env.TEST_NOW ?? "") !== "") {
    const zone = testZone();
    return { zone, at: nextDayStart(testBaseNow(), zone).at, what: process.env.TEST_BOUNDARY || "day" };
  }
  const zone = "Asia/Kathmandu";
  let next = nextDayStart(Date.now(), zone);
  while (!next.newMonth) next = nextDayStart(next.at, zone);
  return { zone, at: next.at, what: "first-of-month" };
}

const B = boundaryUnderTest();
const before = intlWallClock(B.at - 1, B.zone);
const after = intlWallClock(B.at, B.zone);
const monthChanges = before.date.slice(0, 7) !== after.date.slice(0, 7);
const monthOf = (date: string) => `${date.slice(0, 7)}-01`;
/**
 * How long before the boundary the services' clock starts: the harness's start and this suite's
 * setup (a few calls) must fit before it, with room to spare under a loaded machine.
 */
const LEAD_MS = 20_000;

let h: SystemHarness;
beforeAll(async () => {
  h = await startSystemInProcess({ env: { CLOCK_OFFSET_MS: String(B.at - LEAD_MS - Date.now()) } });
}, 120_000);
afterAll(async () => {
  await h?.close();
});

describe(`crossing ${B.what}: ${before.date} ${before.time} -> ${after.date} ${after.time} in ${B.zone}`, () => {
  it("is the boundary it names: the first instant of a new local day, where the worker's reset clock wakes", () => {
    // Intl: the instant before is still the old day, this one is the new day.
    expect(after.date).not.toBe(before.date);
    expect(formatDate(periodsOf(B.at - 1, B.zone).day)).toBe(before.date);
    expect(formatDate(periodsOf(B.at, B.zone).day)).toBe(after.date);
    // The budget-reset workflow sleeps until nextDayStart: it wakes exactly here.
    expect(nextDayStart(B.at - LEAD_MS, B.zone).at).toBe(B.at);
    if (B.what === "first-of-month") expect(after.date.slice(8)).toBe("01");
    if (B.what === "new-year") expect(after.date.slice(5)).toBe("01-01");
    // A day without a midnight: it starts when the DST gap ends (01:00), and has 23 hours.
    if (B.what === "dst-day-without-midnight") {
      expect(after.time).not.toBe("00:00");
      expect(nextDayStart(B.at, B.zone).at - B.at).toBe(23 * 3_600_000);
    }
  });

  it("attributes spend on both sides, resets the exhausted periods at the boundary, and leaves the ended ones as they ended", async () => {
    const reasons = async (id: string) => (await h.campaigns.getCampaign({ id })).campaign!.pauseReasons.toSorted();
    const { brand } = await h.brands.createBrand({ name: `Boundary ${B.what} ${Date.now()}`, timeZone: B.zone });
    const brandId = brand!.id;
    // The day's limit is 10; the month's is 10 too when the month ends here (else out of reach).
    const monthly = (limit: bigint) => (monthChanges ? limit : 1_000_000n);
    await h.budget.setBudget({ brandId, dailyLimitMicros: 10n, monthlyLimitMicros: monthly(10n) });
    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Always on" });
    const campaignId = campaign!.id;
    const spend = (eventId: string, amountMicros: bigint, atMs: number) =>
      h.budget.recordSpend({ eventId, brandId, campaignId, amountMicros, occurredAt: timestampFromMs(atMs) });

    // Before the boundary: the old day (and month) runs out; the campaign stops.
    await spend("old-now", 12n, h.now());
    const paused = monthChanges
      ? [PauseReason.DAILY_BUDGET_EXHAUSTED, PauseReason.MONTHLY_BUDGET_EXHAUSTED]
      : [PauseReason.DAILY_BUDGET_EXHAUSTED];
    await eventually(
      async () => (await reasons(campaignId)).join() === paused.join(),
      15_000,
      "paused by the old period",
    );
    // Spend dated on each side of the boundary, received before it: its last and first millisecond.
    await spend("old-last-ms", 1n, B.at - 1);
    await spend("new-first-ms", 1n, B.at);
    // A limit set before the boundary applies to every period not yet ended: the old day (still
    // exhausted: 13 >= 11) and the new one a spend dated ahead already opened.
    const set = await h.budget.setBudget({ brandId, dailyLimitMicros: 11n, monthlyLimitMicros: monthly(11n) });
    expect(set.status?.day).toMatchObject({ spentMicros: 13n, limitMicros: 11n, exhausted: true });
    // The crossing is real only if all this happened before it.
    expect(h.now(), `the setup ran past the boundary: raise LEAD_MS (${LEAD_MS} ms)`).toBeLessThan(B.at);

    // The boundary passes. Nothing but the reset brings the campaign back.
    await eventually(async () => h.now() >= B.at, B.at - h.now() + 10_000, "the boundary");
    expect(await reasons(campaignId)).toEqual(paused);
    // The reset, as the budget-reset workflow runs it on waking: the current day, then the
    // current month, each through BudgetClockService and then CampaignClockService.
    const activities = createActivities({
      brands: h.brands,
      campaigns: h.campaigns,
      campaignClock: h.campaignClock,
      budgetClock: h.budgetClock,
    });
    const current = periodsOf(h.now(), B.zone);
    expect([formatDate(current.day), formatDate(monthStart(current.day))]).toEqual([after.date, monthOf(after.date)]);
    const sourceId = `test-reset/${brandId}`;
    await activities.openBudgetPeriod({ brandId, kind: "day", start: after.date, sourceId });
    await activities.openBudgetPeriod({ brandId, kind: "month", start: monthOf(after.date), sourceId });
    expect(await reasons(campaignId)).toEqual([]);

    // The audit: paused by the budget before the boundary; from it, only the reset's changes,
    // the campaign serving again within moments of the boundary's first instant.
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId });
    const at = (c: (typeof changes)[number]) => (c.changeTime === undefined ? Number.NaN : timestampMs(c.changeTime));
    const summary = (c: (typeof changes)[number]) => [c.cause, c.toServing, c.toReasons.toSorted().join()];
    // Before it (oldest first): created serving, then paused by the budget's events (the day's
    // and the month's arrive as one change or two), never serving again.
    const beforeBoundary = changes.filter((c) => at(c) < B.at).toReversed();
    expect(beforeBoundary.map(summary)[0]).toEqual(["create", true, ""]);
    expect(beforeBoundary.slice(1).map((c) => [c.cause, c.toServing])).toEqual(
      beforeBoundary.slice(1).map(() => ["budget.exhausted", false]),
    );
    expect(beforeBoundary.map(summary).at(-1)).toEqual(["budget.exhausted", false, paused.join()]);
    const fromBoundary = changes.filter((c) => at(c) >= B.at);
    // One change: straight from paused (by the day, and the month when it ended too) to serving.
    expect(
      fromBoundary.map((c) => [
        c.cause.startsWith("reset."),
        c.sourceId,
        c.fromReasons.toSorted().join(),
        c.toServing,
        c.toReasons.length,
      ]),
    ).toEqual([[true, sourceId, paused.join(), true, 0]]);
    expect(at(fromBoundary[0]) - B.at).toBeLessThan(5_000);

    // After the boundary: new spend lands in the new day; a late event dated in the old day
    // lands there; a new limit applies to the new day, not to the day that ended.
    await spend("new-now", 3n, h.now());
    await spend("old-late", 2n, B.at - 3_000);
    const raised = await h.budget.setBudget({ brandId, dailyLimitMicros: 20n, monthlyLimitMicros: monthly(50n) });
    expect(raised.status?.day).toMatchObject({ spentMicros: 4n, limitMicros: 20n, exhausted: false });

    const { periods } = await h.budget.listBudgetPeriods({ brandId, pageSize: 10 });
    const rows = periods.map((p) => ({
      kind: p.period?.kind === PeriodKind.DAY ? "day" : "month",
      start: p.period?.start === undefined ? "" : formatDate(p.period.start),
      spent: p.spentMicros,
      limit: p.limitMicros,
      exhausted: p.exhausted,
    }));
    const expected = [
      { kind: "day", start: after.date, spent: 4n, limit: 20n, exhausted: false },
      { kind: "day", start: before.date, spent: 15n, limit: 11n, exhausted: true },
      ...(monthChanges
        ? [
            { kind: "month", start: monthOf(after.date), spent: 4n, limit: 50n, exhausted: false },
            { kind: "month", start: monthOf(before.date), spent: 15n, limit: 11n, exhausted: true },
          ]
        : [{ kind: "month", start: monthOf(after.date), spent: 19n, limit: 1_000_000n, exhausted: false }]),
    ];
    const order = (r: { kind: string; start: string }) => `${r.kind} ${r.start}`;
    expect(rows.toSorted((a, b) => order(b).localeCompare(order(a)))).toEqual(
      expected.toSorted((a, b) => order(b).localeCompare(order(a))),
    );
  }, 120_000);
});
