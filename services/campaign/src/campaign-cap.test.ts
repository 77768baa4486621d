import { create, toBinary } from "@bufbuild/protobuf";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetEventType, CampaignCapEventSchema } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { addDays, localDate, startOfDay } from "@adbudget/time";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { eventually, startSystemInProcess, type SystemHarness, testZone, spendOnce } from "@adbudget/testing";

/**
 * Campaign caps through the real services: the budget service learns each campaign's cap from
 * its events (a durable consumer), judges it in the ledger's transaction and publishes a cap
 * event; the campaign service stops only that campaign, until the brand's next day or a higher cap.
 */
let h: SystemHarness;
beforeAll(async () => {
  h = await startSystemInProcess();
});
afterAll(async () => {
  await h?.close();
});

const spend = spendOnce(() => h.budget, "cap");
const get = async (id: string) => (await h.campaigns.getCampaign({ id })).campaign!;
const causes = async (id: string) =>
  (await h.campaigns.listCampaignStateChanges({ campaignId: id })).changes.map((c) => c.cause);

describe("campaign cap", () => {
  it("stops only the capped campaign when its day's spend reaches the cap; a higher cap, a lower one and the next day move it", async () => {
    const zone = testZone();
    const { brand } = await h.brands.createBrand({ name: "Capped brand", timeZone: zone });
    const brandId = brand!.id;
    const { campaign: capped } = await h.campaigns.createCampaign({
      brandId,
      name: "Capped",
      dailyLimitMicros: 10_000_000n,
    });
    const { campaign: sibling } = await h.campaigns.createCampaign({ brandId, name: "Sibling" });
    const today = localDate(h.now(), zone);
    // The budget service has the cap once the campaign's creation event is consumed.
    await eventually(
      async () => (await h.budget.getCampaignSpend({ brandId, campaignId: capped!.id })).limitMicros === 10_000_000n,
      15_000,
      "cap known",
    );

    await spend(brandId, capped!.id, 6_000_000n);
    await spend(brandId, sibling!.id, 50_000_000n);
    expect((await get(capped!.id)).serving).toBe(true);
    const reached = await spend(brandId, capped!.id, 4_000_000n); // 10 of 10: the cap is reached
    expect(reached.duplicate).toBe(false);
    await eventually(
      async () => (await get(capped!.id)).pauseReasons.includes(PauseReason.CAMPAIGN_BUDGET_EXHAUSTED),
      15_000,
      "capped campaign stops",
    );
    expect((await get(capped!.id)).pauseReasons).toEqual([PauseReason.CAMPAIGN_BUDGET_EXHAUSTED]);
    expect((await get(sibling!.id)).serving).toBe(true);
    expect(await h.budget.getCampaignSpend({ brandId, campaignId: capped!.id, day: today })).toMatchObject({
      spentMicros: 10_000_000n,
      exhausted: true,
    });
    expect((await causes(capped!.id))[0]).toBe("campaign_budget.exhausted");

    // More spend is recorded (it happened) and publishes nothing new.
    await spend(brandId, capped!.id, 1_000_000n);
    expect((await h.budget.getCampaignSpend({ brandId, campaignId: capped!.id })).spentMicros).toBe(11_000_000n);

    // A higher cap frees it; a cap at or below the day's spend stops it again.
    await h.campaigns.updateCampaign({
      campaign: { id: capped!.id, dailyLimitMicros: 20_000_000n },
      updateMask: { paths: ["daily_limit_micros"] },
    });
    await eventually(async () => (await get(capped!.id)).serving, 15_000, "raised cap frees it");
    expect((await causes(capped!.id))[0]).toBe("campaign_budget.replenished");
    await h.campaigns.updateCampaign({
      campaign: { id: capped!.id, dailyLimitMicros: 11_000_000n },
      updateMask: { paths: ["daily_limit_micros"] },
    });
    await eventually(async () => !(await get(capped!.id)).serving, 15_000, "lowered cap stops it");
    expect((await get(sibling!.id)).serving).toBe(true);

    // The brand's next day: the cap of the day before no longer applies.
    const tomorrow = addDays(today, 1);
    await h.campaignClock.openBudgetPeriod({
      brandId,
      period: { kind: PeriodKind.DAY, start: tomorrow },
      sourceId: "test",
      exhausted: false,
      sequence: 0n,
    });
    expect((await get(capped!.id)).serving).toBe(true);
    expect((await causes(capped!.id))[0]).toBe("reset.day");
  }, 60_000);

  it("a cap removed while reached frees the campaign", async () => {
    const { brand } = await h.brands.createBrand({ name: "Uncapped brand", timeZone: testZone() });
    const brandId = brand!.id;
    const { campaign } = await h.campaigns.createCampaign({
      brandId,
      name: "Once capped",
      dailyLimitMicros: 1_000_000n,
    });
    await eventually(
      async () => (await h.budget.getCampaignSpend({ brandId, campaignId: campaign!.id })).limitMicros === 1_000_000n,
      15_000,
      "cap known",
    );
    await spend(brandId, campaign!.id, 1_500_000n);
    await eventually(async () => !(await get(campaign!.id)).serving, 15_000, "capped");
    await h.campaigns.updateCampaign({ campaign: { id: campaign!.id }, updateMask: { paths: ["daily_limit_micros"] } });
    await eventually(async () => (await get(campaign!.id)).serving, 15_000, "uncapped");
    expect(await h.budget.getCampaignSpend({ brandId, campaignId: campaign!.id })).toMatchObject({
      spentMicros: 1_500_000n,
      exhausted: false,
    });
    expect((await h.budget.getCampaignSpend({ brandId, campaignId: campaign!.id })).limitMicros).toBeUndefined();
  }, 60_000);

  it("spend outside a campaign's flight is recorded and flagged; inside it is not", async () => {
    const zone = testZone();
    const { brand } = await h.brands.createBrand({ name: "Flight spend brand", timeZone: zone });
    const brandId = brand!.id;
    const today = localDate(h.now(), zone);
    const yesterday = addDays(today, -1);
    // A cap far above the spend makes the budget service's knowledge of the campaign visible.
    const { campaign } = await h.campaigns.createCampaign({
      brandId,
      name: "Ended yesterday",
      endDate: yesterday,
      dailyLimitMicros: 1_000_000_000n,
    });
    expect(campaign!.pauseReasons).toEqual([PauseReason.ENDED]);
    await eventually(
      async () => (await h.budget.getCampaignSpend({ brandId, campaignId: campaign!.id })).limitMicros !== undefined,
      15_000,
      "settings known",
    );

    const late = await spend(brandId, campaign!.id, 1_000_000n);
    expect(late.event!.outsideFlight).toBe(true);
    const inFlight = await h.budget.recordSpend({
      eventId: `cap-in-flight-${campaign!.id}`,
      brandId,
      campaignId: campaign!.id,
      amountMicros: 2_000_000n,
      occurredAt: timestampFromMs(startOfDay(yesterday, zone) + 3_600_000),
    });
    expect(inFlight.event!.outsideFlight).toBe(false);
    const { events } = await h.budget.listSpendEvents({ brandId, campaignId: campaign!.id });
    expect(events.map((e) => [e.amountMicros, e.outsideFlight]).sort()).toEqual([
      [1_000_000n, true],
      [2_000_000n, false],
    ]);
    // Recorded either way: the totals hold both.
    expect((await h.budget.getBudgetStatus({ brandId })).status!.month!.spentMicros).toBeGreaterThanOrEqual(1_000_000n);
  }, 60_000);

  it("a poison message, a late cap event of yesterday and a replay change nothing; the next real one applies", async () => {
    const zone = testZone();
    const { brand } = await h.brands.createBrand({ name: "Hostile cap brand", timeZone: zone });
    const brandId = brand!.id;
    const { campaign } = await h.campaigns.createCampaign({
      brandId,
      name: "Steady",
      dailyLimitMicros: 1_000_000_000n,
    });
    const today = localDate(h.now(), zone);
    const js = jetstream(h.nc);
    const subject = (exhausted: boolean) =>
      `${h.prefix}.budget.campaign_${exhausted ? "exhausted" : "replenished"}.${brandId}`;
    const publish = (exhausted: boolean, start: typeof today, sequence: bigint, campaignId = campaign!.id) =>
      js.publish(
        subject(exhausted),
        toBinary(
          CampaignCapEventSchema,
          create(CampaignCapEventSchema, {
            eventId: crypto.randomUUID(),
            type: exhausted ? BudgetEventType.EXHAUSTED : BudgetEventType.REPLENISHED,
            brandId,
            campaignId,
            period: { kind: PeriodKind.DAY, start },
            spentMicros: 1n,
            limitMicros: 1n,
            sequence,
          }),
        ),
      );
    // Bytes that are no CampaignCapEvent, an unknown campaign, and yesterday's exhaustion: nothing moves.
    await js.publish(subject(true), new Uint8Array([0xff, 0xff, 0xff, 0x07, 0x00]));
    await publish(true, today, 5n, "01900000-0000-7000-8000-0000000000ee");
    await publish(true, addDays(today, -1), 99n);
    // Then today's exhaustion (applied), a replay of it, and an older sequence's replenishment (both nothing).
    await publish(true, today, 10n);
    await eventually(
      async () => (await get(campaign!.id)).pauseReasons.includes(PauseReason.CAMPAIGN_BUDGET_EXHAUSTED),
      10_000,
      "today's cap event applied",
    );
    await publish(true, today, 10n);
    await publish(false, today, 9n);
    await publish(false, today, 11n); // the next real one: serves again
    await eventually(async () => (await get(campaign!.id)).serving, 10_000, "the later replenishment applied");
    const log = (await h.campaigns.listCampaignStateChanges({ campaignId: campaign!.id })).changes.map((c) => c.cause);
    expect(log).toEqual(["campaign_budget.replenished", "campaign_budget.exhausted", "create"]);
  }, 60_000);
  it("lifetime events: applied by sequence whatever the order; reconciliation repairs a drift", async () => {
    const { brand } = await h.brands.createBrand({ name: "Lifetime events brand", timeZone: testZone() });
    const brandId = brand!.id;
    const end = addDays(localDate(h.now(), testZone()), 30);
    const { campaign } = await h.campaigns.createCampaign({
      brandId,
      name: "Lifetime",
      endDate: end,
      lifetimeLimitMicros: 1_000_000_000n,
    });
    const js = jetstream(h.nc);
    /** Publishes a lifetime event as the budget service would; returns its id (the audit's source). */
    const publish = async (exhausted: boolean, sequence: bigint, campaignId = campaign!.id) => {
      const eventId = crypto.randomUUID();
      await js.publish(
        `${h.prefix}.budget.campaign_${exhausted ? "exhausted" : "replenished"}.${brandId}`,
        toBinary(
          CampaignCapEventSchema,
          create(CampaignCapEventSchema, {
            eventId,
            type: exhausted ? BudgetEventType.EXHAUSTED : BudgetEventType.REPLENISHED,
            brandId,
            campaignId,
            lifetime: true,
            spentMicros: 1n,
            limitMicros: 1n,
            sequence,
          }),
        ),
      );
      return eventId;
    };
    await publish(true, 5n, "not-a-campaign-id"); // dropped: the events after it apply
    const exhausted = await publish(true, 10n);
    await eventually(
      async () => (await get(campaign!.id)).pauseReasons.includes(PauseReason.LIFETIME_BUDGET_EXHAUSTED),
      10_000,
      "the lifetime event applied",
    );
    await publish(true, 10n); // a replay
    await publish(false, 9n); // late: older than what was applied, changes nothing
    const replenished = await publish(false, 12n);
    await eventually(async () => (await get(campaign!.id)).serving, 10_000, "the newer replenishment applied");
    const log = async () =>
      (await h.campaigns.listCampaignStateChanges({ campaignId: campaign!.id })).changes.map((c) => [
        c.cause,
        c.sourceId,
      ]);
    // The campaign served again by the event of sequence 12, not by the late one of 9.
    expect(await log()).toEqual([
      ["lifetime_budget.replenished", `nats:${replenished}`],
      ["lifetime_budget.exhausted", `nats:${exhausted}`],
      ["create", expect.any(String)],
    ]);
    // The budget service's truth, read at sequence 12, says exhausted: a drifted flag, repaired.
    const r = await h.campaignClock.reconcileBrand({
      brandId,
      lifetimes: [{ campaignId: campaign!.id, exhausted: true, sequence: 12n }],
      sourceId: "test",
    });
    expect(r.campaignsChanged).toBe(1);
    expect((await get(campaign!.id)).pauseReasons).toEqual([PauseReason.LIFETIME_BUDGET_EXHAUSTED]);
    expect((await log())[0]?.[0]).toBe("reconcile");
  }, 60_000);
});
