import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDays, formatDate, localDate, startOfDay } from "@adbudget/time";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { DayOfWeek } from "@adbudget/proto/google/type/dayofweek_pb.js";
import { eventually, startSystemInProcess, type SystemHarness, testBaseNow, testZone } from "@adbudget/testing";

/**
 * Edges of the budget loop at a local midnight. Every service runs on a clock shifted so that
 * the test starts a few minutes before a UTC midnight (CLOCK_OFFSET_MS, as the e2e test does):
 * spend dated a few minutes ahead then lands in tomorrow, and tomorrow can be opened as the
 * reset clock opens it at its first instant. The shift is computed from the real clock, so the
 * test behaves the same at any hour.
 */
const LEAD_MS = 4 * 60_000;
/** The brands' zone: UTC, or the calendar check's TEST_ZONE (a DST day in Santiago, say). */
const ZONE = testZone();
let h: SystemHarness;
let offset = 0;
const now = () => Date.now() + offset;
beforeAll(async () => {
  const base = testBaseNow();
  // The shifted clock reaches the next-but-one local midnight LEAD_MS after start (never the
  // next one: the shift is at least a day, so the real clock's hour cannot matter).
  const midnight = startOfDay(addDays(localDate(base, ZONE), 2), ZONE);
  offset = midnight - LEAD_MS - Date.now();
  h = await startSystemInProcess({ env: { CLOCK_OFFSET_MS: String(offset) } });
});
afterAll(async () => {
  await h?.close();
});

const today = () => localDate(now(), ZONE);
const tomorrow = () => addDays(today(), 1);

/** Opens a period as the reset clock does: in the ledger, then in the campaigns with its state. */
async function openPeriod(brandId: string, start: ReturnType<typeof today>) {
  const opened = await h.budgetClock.openBudgetPeriod({ brandId, period: { kind: PeriodKind.DAY, start } });
  await h.campaignClock.openBudgetPeriod({
    brandId,
    period: { kind: PeriodKind.DAY, start },
    sourceId: "test-reset",
    exhausted: opened.status!.exhausted,
    sequence: opened.sequence,
  });
  return opened;
}

async function brandWithCampaign(name: string, daily: bigint | undefined) {
  const { brand } = await h.brands.createBrand({ name: `${name} ${Math.random()}`, timeZone: ZONE });
  const brandId = brand!.id;
  if (daily !== undefined) await h.budget.setBudget({ brandId, dailyLimitMicros: daily });
  const { campaign } = await h.campaigns.createCampaign({ brandId, name });
  return { brandId, campaignId: campaign!.id };
}

const campaignOf = async (id: string) => (await h.campaigns.getCampaign({ id })).campaign!;
const servedSinceCreate = async (id: string) =>
  (await h.campaigns.listCampaignStateChanges({ campaignId: id })).changes.filter(
    (c) => c.cause !== "create" && c.toServing,
  );

describe("a period that opens exhausted pauses from its first instant", () => {
  it("a day whose limit is 0 stays paused across the reset, and the ledger says why", async () => {
    const { brandId, campaignId } = await brandWithCampaign("Zero limit", 0n);
    await eventually(
      async () => (await campaignOf(campaignId)).pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED),
      15_000,
      "paused today",
    );
    const opened = await openPeriod(brandId, tomorrow());
    expect(opened.status).toMatchObject({ exhausted: true, spentMicros: 0n, limitMicros: 0n });
    expect(opened.sequence).toBeGreaterThan(0n);
    expect((await campaignOf(campaignId)).pauseReasons).toEqual([PauseReason.DAILY_BUDGET_EXHAUSTED]);
    expect(await servedSinceCreate(campaignId)).toEqual([]);
    // Opening again changes nothing (idempotent), and the opening event says what happened.
    expect((await openPeriod(brandId, tomorrow())).sequence).toBe(opened.sequence);
    const periods = await h.budget.listBudgetPeriods({ brandId, kind: PeriodKind.DAY });
    expect(periods.periods.find((p) => formatDate(p.period!.start!) === formatDate(tomorrow()))).toMatchObject({
      exhausted: true,
    });
  });

  it("spend dated ahead that reaches tomorrow's limit pauses nothing today, and pauses from tomorrow's first instant", async () => {
    const { brandId, campaignId } = await brandWithCampaign("Ahead", 10n);
    await h.budget.recordSpend({ eventId: "warm", brandId, campaignId, amountMicros: 1n });
    const ahead = await h.budget.recordSpend({
      eventId: "ahead",
      brandId,
      campaignId,
      amountMicros: 10n,
      occurredAt: timestampFromMs(startOfDay(tomorrow(), ZONE) + 30_000),
    });
    expect(formatDate(ahead.event!.day!)).toBe(formatDate(tomorrow()));
    expect(ahead.status?.day).toMatchObject({ exhausted: false, spentMicros: 1n });
    // The exhaustion of tomorrow reaches the campaign service, which keeps it for tomorrow.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await campaignOf(campaignId)).serving).toBe(true);
    const opened = await openPeriod(brandId, tomorrow());
    expect(opened.status).toMatchObject({ exhausted: true, spentMicros: 10n });
    await eventually(
      async () => (await campaignOf(campaignId)).pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED),
      5_000,
      "paused tomorrow",
    );
  });
});

describe("SetBudget applies to every period not yet ended", () => {
  it("a lower limit set before midnight holds for tomorrow's row opened early by spend dated ahead", async () => {
    const { brandId, campaignId } = await brandWithCampaign("Lowered", 10n);
    await h.budget.recordSpend({ eventId: "today", brandId, campaignId, amountMicros: 1n });
    await h.budget.recordSpend({
      eventId: "tomorrow",
      brandId,
      campaignId,
      amountMicros: 4n,
      occurredAt: timestampFromMs(startOfDay(tomorrow(), ZONE) + 1000),
    });
    const lowered = await h.budget.setBudget({ brandId, dailyLimitMicros: 3n });
    expect(lowered.status?.day).toMatchObject({ exhausted: false, limitMicros: 3n, spentMicros: 1n });
    await new Promise((r) => setTimeout(r, 1500));
    expect((await campaignOf(campaignId)).serving).toBe(true);
    const opened = await openPeriod(brandId, tomorrow());
    expect(opened.status).toMatchObject({ exhausted: true, limitMicros: 3n, spentMicros: 4n });
    await eventually(async () => !(await campaignOf(campaignId)).serving, 5_000, "paused when tomorrow opens");
    // Raising it again replenishes tomorrow, the current day now.
    await h.budget.setBudget({ brandId, dailyLimitMicros: 20n });
    await eventually(async () => (await campaignOf(campaignId)).serving, 15_000, "replenished");
    const { events } = await h.budget.listSpendEvents({ brandId });
    expect(events.map((e) => e.eventId).sort()).toEqual(["today", "tomorrow"]);
  });
});

describe("retries", () => {
  it("a retry of a recorded event whose campaign was deleted since is a duplicate, on any replica", async () => {
    const { brandId, campaignId } = await brandWithCampaign("Deleted later", undefined);
    const req = { eventId: "before-delete", brandId, campaignId, amountMicros: 5n };
    expect((await h.budget.recordSpend(req)).duplicate).toBe(false);
    await h.campaigns.deleteCampaign({ id: campaignId });
    // A budget replica that never saw the campaign (cold cache) answers the retry.
    const replica = await h.startBudgetReplica();
    const retry = await replica.recordSpend(req);
    expect(retry.duplicate).toBe(true);
    expect(retry.event?.amountMicros).toBe(5n);
  });
});

describe("the daypart state follows the schedule version", () => {
  const allDay = { daysOfWeek: [1, 2, 3, 4, 5, 6, 7] as DayOfWeek[], start: "00:00", end: "24:00" };

  it("a clock computing from a schedule that was removed since changes nothing", async () => {
    const { brand } = await h.brands.createBrand({ name: `Versions ${Math.random()}`, timeZone: "UTC" });
    const { campaign } = await h.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Versioned",
      schedule: { windows: [allDay] },
    });
    expect(campaign!.scheduleVersion).toBe(1n);
    const removed = (
      await h.campaigns.updateCampaign({ campaign: { id: campaign!.id }, updateMask: { paths: ["schedule"] } })
    ).campaign!;
    expect(removed.scheduleVersion).toBe(2n);
    // A timer of the old schedule fires after the removal, with a newer as-of.
    const late = await h.campaignClock.setDaypartState({
      campaignId: campaign!.id,
      inWindow: false,
      asOfTime: timestampFromMs(now() + 1000),
      sourceId: "old-timer",
      scheduleVersion: 1n,
    });
    expect(late.unchanged).toBe(true);
    const unversioned = await h.campaignClock.setDaypartState({
      campaignId: campaign!.id,
      inWindow: false,
      asOfTime: timestampFromMs(now() + 2000),
      sourceId: "old-timer",
    });
    expect(unversioned.unchanged).toBe(true);
    expect((await campaignOf(campaign!.id)).serving).toBe(true);
  });

  it("a brand's zone change moves campaigns scheduled in the brand's zone at once, with a new version", async () => {
    const { brand } = await h.brands.createBrand({ name: `Rezoned ${Math.random()}`, timeZone: "UTC" });
    // Two hours around the current UTC hour: inside in UTC, outside in Kiritimati (UTC+14).
    const hour = new Date(now()).getUTCHours();
    const hh = (x: number) => String((x + 24) % 24).padStart(2, "0");
    const window = { daysOfWeek: allDay.daysOfWeek, start: `${hh(hour - 1)}:00`, end: `${hh(hour + 1)}:00` };
    const { campaign } = await h.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Zone follower",
      schedule: { windows: [window] },
    });
    const own = await h.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Own zone",
      schedule: { timeZone: "UTC", windows: [window] },
    });
    expect(campaign!.serving).toBe(true);
    await h.brands.updateBrand({
      brand: { id: brand!.id, timeZone: "Pacific/Kiritimati" },
      updateMask: { paths: ["time_zone"] },
    });
    await eventually(
      async () => (await campaignOf(campaign!.id)).pauseReasons.includes(PauseReason.OUTSIDE_DAYPART),
      15_000,
      "rezoned",
    );
    expect((await campaignOf(campaign!.id)).scheduleVersion).toBe(2n);
    expect(await campaignOf(own.campaign!.id)).toMatchObject({ serving: true, scheduleVersion: 1n });
  });
});
