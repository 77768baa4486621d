import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServingCache, staticToken } from "@adbudget/client";
import { eventually, startSystemInProcess, violatedFields, type SystemHarness } from "@adbudget/testing";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";

/*
 * Lifetime budgets against real services (in process, real PostgreSQL and NATS), on one clock the
 * test moves (fixed instants, so it runs the same at any wall-clock time): a campaign of a paced
 * brand in New York with a four-day flight, Saturday 2027-03-13 to Tuesday 2027-03-16, across
 * Saturday's local midnight into the 23-hour spring-forward Sunday. Its exhaustion travels
 * spend statement -> outbox -> NATS -> campaign service -> WatchCampaigns -> the SDK.
 */

const ZONE = "America/New_York";
const UNIT = 1_000_000n;
const LIFETIME = 400n * UNIT;
const FLIGHT = { startDate: { year: 2027, month: 3, day: 13 }, endDate: { year: 2027, month: 3, day: 16 } };
/** 18:00 EST on Saturday 2027-03-13, the flight's first day (its midnight was 05:00 UTC). */
const EVENING = Date.parse("2027-03-13T23:00:00Z");
/** 00:00:30 EST on Sunday 2027-03-14, the spring-forward day (02:00 EST is 03:00 EDT). */
const AFTER_MIDNIGHT = Date.parse("2027-03-14T05:00:30Z");
/** 12:00 EDT that Sunday. */
const NOON = Date.parse("2027-03-14T16:00:00Z");

let h: SystemHarness;
let clock = EVENING;
let cache: ServingCache;
let brandId = "";
let campaignId = "";
let seq = 0;

async function spend(micros: bigint): Promise<void> {
  const r = await h.budget.recordSpend({
    eventId: `lifetime-${++seq}`,
    brandId,
    campaignId,
    amountMicros: micros,
    occurredAt: timestampFromMs(clock),
  });
  expect(r.duplicate).toBe(false);
}

const campaign = async () => (await h.campaigns.getCampaign({ id: campaignId })).campaign;
const lifetime = () => h.budget.getCampaignSpend({ brandId, campaignId });

async function refusal(call: Promise<unknown>): Promise<{ code: Code; fields: string[] }> {
  try {
    await call;
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, fields: violatedFields(e) };
  }
  throw new Error("the call succeeded");
}

beforeAll(async () => {
  h = await startSystemInProcess({ now: () => clock, budgetEnv: { PACING_INTERVAL_MS: "100" } });
  const { brand } = await h.brands.createBrand({ name: `lifetime-${Date.now()}`, timeZone: ZONE, currencyCode: "USD" });
  brandId = brand?.id ?? "";
  // A paced brand (the default) with no daily limit: only the campaign's lifetime is paced.
  await h.budget.setBudget({ brandId, monthlyLimitMicros: 1_000_000n * UNIT });
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

describe("a campaign's lifetime budget", () => {
  it("needs an end date and a positive limit", async () => {
    expect(await refusal(h.campaigns.createCampaign({ brandId, name: "open", lifetimeLimitMicros: LIFETIME }))).toEqual(
      { code: Code.InvalidArgument, fields: ["lifetime_limit_micros"] },
    );
    expect(
      await refusal(h.campaigns.createCampaign({ brandId, name: "zero", ...FLIGHT, lifetimeLimitMicros: 0n })),
    ).toEqual({ code: Code.InvalidArgument, fields: ["lifetime_limit_micros"] });
  });

  it("is stored with the campaign and reaches the ledger", async () => {
    const created = await h.campaigns.createCampaign({
      brandId,
      name: "flight",
      ...FLIGHT,
      lifetimeLimitMicros: LIFETIME,
    });
    campaignId = created.campaign?.id ?? "";
    expect(created.campaign?.lifetimeLimitMicros).toBe(LIFETIME);
    expect(created.campaign?.serving).toBe(true);
    await eventually(async () => (await lifetime()).lifetimeLimitMicros === LIFETIME, 15_000, "the ledger's limit");
    // Its end date cannot be removed while the limit stays.
    const removeEnd = h.campaigns.updateCampaign({
      campaign: { id: campaignId },
      updateMask: { paths: ["end_date"] },
    });
    expect(await refusal(removeEnd)).toEqual({ code: Code.InvalidArgument, fields: ["campaign.end_date"] });
    // Both in one request: both named.
    const both = h.campaigns.updateCampaign({
      campaign: { id: campaignId, lifetimeLimitMicros: LIFETIME },
      updateMask: { paths: ["end_date", "lifetime_limit_micros"] },
    });
    expect(await refusal(both)).toEqual({
      code: Code.InvalidArgument,
      fields: ["campaign.lifetime_limit_micros", "campaign.end_date"],
    });
  });

  it("paces the first day at its share of the flight, and forecasts the end at the recent pace", async () => {
    // 90 spent by 18:00 of the first of four days: its share is 400 / 4 = 100, and the uniform
    // curve stands at 75 there: ahead, so the throttle is 0 until the local midnight.
    await spend(90n * UNIT);
    await eventually(async () => (await campaign())?.throttle === 0, 15_000, "throttle 0");
    await eventually(async () => cache.throttle(campaignId) === 0, 15_000, "throttle 0 in the ServingCache");
    expect(cache.isServing(campaignId)).toBe(true);
    const expire = (await campaign())?.throttleExpireTime;
    expect(timestampMs(expire ?? timestampFromMs(0))).toBe(Date.parse("2027-03-14T05:00:00Z"));
    const r = await lifetime();
    expect(r.lifetimeSpentMicros).toBe(90n * UNIT);
    expect(r.lifetimeExhausted).toBe(false);
    // Oracle by hand: 90 in the 18 hours since the flight's first midnight is 5 an hour; the
    // 310 left last 62 hours: 23:00 UTC Saturday + 62 h = 13:00 UTC Tuesday, before the flight
    // ends (Wednesday 00:00 EDT, 04:00 UTC).
    expect(timestampMs(r.lifetimeProjectedExhaustTime ?? timestampFromMs(0))).toBe(Date.parse("2027-03-16T13:00:00Z"));
  });

  it("starts the next local day (a DST day) unthrottled, with what is left spread over the days left", async () => {
    clock = AFTER_MIDNIGHT;
    expect(cache.throttle(campaignId)).toBe(1); // yesterday's throttle expired in the SDK
    await eventually(async () => (await campaign())?.throttle === 1, 15_000, "throttle 1 after midnight");
    // Noon of the 23-hour day: today's share is (400 - 90) / 3 = 103.33, and the curve (the
    // brand's learned profile, 11/95 at noon, see pacing.test.ts) stands near 12 of it by 12:30,
    // the controller's horizon. 20 spent is ahead: throttled again.
    clock = NOON;
    await spend(20n * UNIT);
    await eventually(async () => (await campaign())?.throttle === 0, 15_000, "throttle 0 at noon");
  });

  it("stops the campaign at once when the lifetime spend reaches the limit, whatever the day", async () => {
    await spend(290n * UNIT); // 90 + 20 + 290 = 400
    await eventually(async () => cache.isServing(campaignId) === false, 15_000, "stopped in the ServingCache");
    const c = await campaign();
    expect(c?.serving).toBe(false);
    expect(c?.pauseReasons).toEqual([PauseReason.LIFETIME_BUDGET_EXHAUSTED]);
    const r = await lifetime();
    expect(r.lifetimeExhausted).toBe(true);
    expect(r.lifetimeProjectedExhaustTime).toBeUndefined();
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId });
    expect(changes[0]?.cause).toBe("lifetime_budget.exhausted");
    expect(changes[0]?.toReasons).toEqual([PauseReason.LIFETIME_BUDGET_EXHAUSTED]);
  });

  it("serves again when the limit is raised, and the audit names who raised it", async () => {
    await h.campaigns.updateCampaign({
      campaign: { id: campaignId, lifetimeLimitMicros: 500n * UNIT },
      updateMask: { paths: ["lifetime_limit_micros"] },
    });
    await eventually(async () => cache.isServing(campaignId), 15_000, "serving again in the ServingCache");
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId });
    expect(changes[0]?.cause).toBe("lifetime_budget.replenished");
    expect(changes[0]?.principal).toBe("test:admin");
    const audit = (await h.campaigns.listCampaignChanges({ campaignId })).changes[0];
    expect([audit?.before?.lifetimeLimitMicros, audit?.after?.lifetimeLimitMicros]).toEqual([LIFETIME, 500n * UNIT]);
    const r = await lifetime();
    expect([r.lifetimeSpentMicros, r.lifetimeLimitMicros, r.lifetimeExhausted]).toEqual([
      400n * UNIT,
      500n * UNIT,
      false,
    ]);
    // Oracle by hand: 400 since Saturday's midnight (05:00 UTC), 35 hours before noon EDT on the
    // 23-hour Sunday (not 36): the 100 left last 100 * 35 / 400 = 8.75 hours.
    expect(timestampMs(r.lifetimeProjectedExhaustTime ?? timestampFromMs(0))).toBe(NOON + 8.75 * 3_600_000);
  });
});
