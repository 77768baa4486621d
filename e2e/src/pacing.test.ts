import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServingCache, staticToken } from "@adbudget/client";
import { eventually, startSystemInProcess, type SystemHarness } from "@adbudget/testing";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";

/*
 * Pacing against real services (in process, real PostgreSQL and NATS), on one clock the test
 * moves (fixed instants, so it runs the same at any wall-clock time): a paced brand in New York
 * from the evening before the 2027 spring-forward day, across its local midnight, into that
 * 23-hour day. The throttle travels budget service -> outbox -> NATS -> campaign service ->
 * WatchCampaigns -> the SDK's ServingCache, as in production.
 */

const ZONE = "America/New_York";
const LIMIT = 1_000_000_000n; // 1,000 units a day
/** 18:00 EST on Saturday 2027-03-13: three quarters of a uniform day gone. */
const EVENING = Date.parse("2027-03-13T23:00:00Z");
/** 00:00:30 EST on Sunday 2027-03-14, the spring-forward day (23 hours: 02:00 EST is 03:00 EDT). */
const AFTER_MIDNIGHT = Date.parse("2027-03-14T05:00:30Z");
/** 12:00 EDT that day: 11 real hours of its 23 gone. */
const NOON = Date.parse("2027-03-14T16:00:00Z");

let h: SystemHarness;
let clock = EVENING;
let cache: ServingCache;
let brandId = "";
let campaignId = "";
let cappedId = "";
let seq = 0;

async function spend(campaign: string, micros: bigint): Promise<void> {
  const r = await h.budget.recordSpend({
    eventId: `pacing-${++seq}`,
    brandId,
    campaignId: campaign,
    amountMicros: micros,
    occurredAt: timestampFromMs(clock),
  });
  expect(r.duplicate).toBe(false);
}

async function throttleOf(id: string): Promise<number | undefined> {
  return (await h.campaigns.getCampaign({ id })).campaign?.throttle;
}

beforeAll(async () => {
  h = await startSystemInProcess({ now: () => clock, budgetEnv: { PACING_INTERVAL_MS: "100" } });
  const { brand } = await h.brands.createBrand({ name: `pacing-${Date.now()}`, timeZone: ZONE, currencyCode: "USD" });
  brandId = brand?.id ?? "";
  // No pacing mode named: a new budget is paced.
  const set = await h.budget.setBudget({ brandId, dailyLimitMicros: LIMIT });
  expect(set.budget?.pacingMode).toBe(PacingMode.PACED);
  campaignId = (await h.campaigns.createCampaign({ brandId, name: "paced" })).campaign?.id ?? "";
  cappedId =
    (await h.campaigns.createCampaign({ brandId, name: "capped", dailyLimitMicros: 100_000_000n })).campaign?.id ?? "";
  cache = new ServingCache({
    campaignUrl: h.campaignApp.server.url,
    tokens: staticToken(h.auth.adminToken),
    brandId,
    now: () => clock,
  });
  await cache.ready;
}, 120_000);

afterAll(async () => {
  await cache?.close();
  await h?.close();
});

describe("pacing a brand's day", () => {
  it("throttles to 0 when spend runs ahead of the curve; the SDK stops sampling while the campaign still serves", async () => {
    // 90% spent at 18:00, where the uniform curve stands at 75%.
    await spend(campaignId, 900_000_000n);
    await eventually(async () => (await throttleOf(campaignId)) === 0, 15_000, "throttle 0 on GetCampaign");
    await eventually(async () => cache.throttle(campaignId) === 0, 15_000, "throttle 0 in the ServingCache");
    expect(cache.isServing(campaignId)).toBe(true);
    expect(Array.from({ length: 1000 }, () => cache.shouldServe(campaignId)).some(Boolean)).toBe(false);
    // Every campaign of the brand follows the brand's day.
    await eventually(async () => (await throttleOf(cappedId)) === 0, 15_000, "the capped campaign too");
    // The throttle holds until the end of its local day: New York's midnight (EST, UTC-5).
    const { campaign } = await h.campaigns.getCampaign({ id: campaignId });
    expect(timestampMs(campaign?.throttleExpireTime ?? timestampFromMs(0))).toBe(Date.parse("2027-03-14T05:00:00Z"));
  });

  it("shows where the day should stand in GetBudgetStatus", async () => {
    const { status } = await h.budget.getBudgetStatus({ brandId });
    // 18 of 24 hours: 75% of the limit (to the ppm the curve is kept at).
    expect(status?.day?.targetSpentMicros).toBe(750_000_000n);
  });

  it("starts the next local day (a DST day) unthrottled", async () => {
    clock = AFTER_MIDNIGHT;
    // Yesterday's throttle has expired in the SDK before any word from the server.
    expect(cache.throttle(campaignId)).toBe(1);
    expect(cache.shouldServe(campaignId)).toBe(true);
    await eventually(async () => (await throttleOf(campaignId)) === 1, 15_000, "throttle 1 after midnight");
    await eventually(async () => cache.throttle(campaignId) === 1, 15_000, "and in the ServingCache");
    expect(cache.shouldServe(campaignId)).toBe(true);
  });

  it("puts noon of the 23-hour day where the brand's learned profile says", async () => {
    clock = NOON;
    const { status } = await h.budget.getBudgetStatus({ brandId });
    const target = status?.day?.targetSpentMicros ?? -1n;
    // Oracle, from the rule rather than the code: the last 14 days hold one spend, at 18:00, so
    // hour 18 weighs 0.75 * 24 + 0.25 = 18.25 and every other hour 0.25. The day has 23 real
    // hours (02:00 does not exist); by noon 11 of them, none of them 18:00, are gone:
    // 11 * 0.25 / (22 * 0.25 + 18.25) = 11/95. The curve keeps shares to 1 ppm.
    const exact = (LIMIT * 11n) / 95n;
    expect(target > exact - LIMIT / 1_000_000n && target < exact + LIMIT / 1_000_000n).toBe(true);
  });

  it("paces a campaign's cap on its own: only that campaign is throttled", async () => {
    // 60 of its 100-unit cap by noon, where its curve stands at 11.6%, while the brand (nothing
    // spent today) is behind its own.
    await spend(cappedId, 60_000_000n);
    await eventually(async () => (await throttleOf(cappedId)) === 0, 15_000, "the capped campaign throttled");
    expect(await throttleOf(campaignId)).toBe(1);
  });

  it("switching to ACCELERATED releases every throttle, and the audit log names the change", async () => {
    await h.budget.setBudget({ brandId, pacingMode: PacingMode.ACCELERATED });
    await eventually(async () => (await throttleOf(cappedId)) === 1, 15_000, "released");
    const { changes } = await h.budget.listBudgetChanges({ brandId });
    expect(changes[0]?.oldPacingMode).toBe(PacingMode.PACED);
    expect(changes[0]?.newPacingMode).toBe(PacingMode.ACCELERATED);
    expect(changes.at(-1)?.oldPacingMode).toBe(PacingMode.UNSPECIFIED); // the budget's creation
    expect(changes[0]?.newDailyLimitMicros).toBe(LIMIT); // the limit kept
  });
});
