import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { addDays, formatDate, localDate } from "@adbudget/time";
import {
  blockedOnLock,
  Latch,
  pausingPool,
  startSystemInProcess,
  testZone,
  type SystemHarness,
} from "@adbudget/testing";
import type { BudgetSignal } from "./budget-flags.js";
import type { CapSignal } from "./cap-flags.js";
import { applyBrand } from "./brand-changes.js";
import { applyBudgetSignal, applyCap } from "./budget-signals.js";
import type { Kind } from "./campaign-rows.js";
import { CampaignStore } from "./campaign-store.js";
import { OUTBOX_CHANNEL, outboxMessages } from "./events.js";

/**
 * Issue 20, findings 2 and 3 and the cap event of tomorrow, against the campaign service's real
 * database: its store (production code) driven with the signals the consumers and the clocks
 * apply, in the orders that broke it, one held at a chosen statement by a latch where the
 * finding is an interleaving.
 */
let h: SystemHarness;
let store: CampaignStore;
beforeAll(async () => {
  h = await startSystemInProcess();
  store = storeOn(h.campaignApp.pool);
});
afterAll(async () => {
  await h?.close();
});

function storeOn(pool: typeof h.campaignApp.pool): CampaignStore {
  return new CampaignStore(pool, (changes, nowMs) => outboxMessages(h.prefix, changes, nowMs), OUTBOX_CHANNEL);
}

const cause = (name: string) => ({ cause: name, sourceId: `test:${name}` });
const reasons = async (id: string) => (await h.campaigns.getCampaign({ id })).campaign!.pauseReasons;

async function brandWithCampaign(zone = testZone()) {
  const { brand } = await h.brands.createBrand({
    name: `Races ${Math.random().toString(36).slice(2)}`,
    timeZone: zone,
  });
  const { campaign } = await h.campaigns.createCampaign({
    brandId: brand!.id,
    name: "Raced",
    dailyLimitMicros: 10_000_000n,
  });
  return { brandId: brand!.id, campaignId: campaign!.id, version: BigInt(brand!.etag.slice(1)) };
}

function budgetSignal(s: CampaignStore, brandId: string, kind: Kind, signal: BudgetSignal, nowMs = h.now()) {
  return s.tx(
    async (client) => ({
      result: undefined,
      changes: await applyBudgetSignal(client, brandId, kind, signal, cause("budget"), new Date(nowMs)),
    }),
    nowMs,
  );
}

function capSignal(s: CampaignStore, campaignId: string, signal: CapSignal) {
  const nowMs = h.now();
  return s.tx(
    async (client) => ({
      result: undefined,
      changes: await applyCap(client, campaignId, signal, cause("cap"), new Date(nowMs)),
    }),
    nowMs,
  );
}

const today = () => formatDate(localDate(h.now(), testZone()));

/**
 * The cap event's transaction held just before it locks the campaign (what it read of the brand
 * so far is all it will use), while the brand's day exhaustion is applied beside it; then it
 * goes on. The exhaustion either waits for it (the brand lock comes first) or commits first: the
 * campaign must end judged by both.
 */
async function capEventBesideExhaustion(campaignId: string, brandId: string, cap: CapSignal) {
  const latch = new Latch();
  const atCampaignLock = (sql: string) =>
    sql.endsWith("from campaigns where id = $1 and deleted_at is null for update");
  const held = capSignal(storeOn(pausingPool(h.campaignApp.pool, atCampaignLock, latch)), campaignId, cap);
  await latch.reached;
  const exhaustion = budgetSignal(store, brandId, PeriodKind.DAY, {
    kind: "event",
    period: today(),
    exhausted: true,
    seq: 1_000n,
  });
  await Promise.race([exhaustion, blockedOnLock(h.campaignApp.pool, "select 1 from brand_state")]);
  latch.release();
  await Promise.all([held, exhaustion]);
}

describe("finding 2: a cap event and the brand's exhaustion at once", () => {
  it("a cap raise applied beside the day's exhaustion leaves the campaign paused by the day", async () => {
    const { brandId, campaignId } = await brandWithCampaign();
    await budgetSignal(store, brandId, PeriodKind.DAY, { kind: "open", period: today(), exhausted: false, seq: 0n });
    await capSignal(store, campaignId, { day: today(), exhausted: true, seq: 100n });
    expect(await reasons(campaignId)).toEqual([PauseReason.CAMPAIGN_BUDGET_EXHAUSTED]);
    await capEventBesideExhaustion(campaignId, brandId, { day: today(), exhausted: false, seq: 101n });
    expect(await reasons(campaignId)).toEqual([PauseReason.DAILY_BUDGET_EXHAUSTED]);
  });

  it("one batch crossing the cap and the day's limit: both reasons stay", async () => {
    const { brandId, campaignId } = await brandWithCampaign();
    await budgetSignal(store, brandId, PeriodKind.DAY, { kind: "open", period: today(), exhausted: false, seq: 0n });
    await capEventBesideExhaustion(campaignId, brandId, { day: today(), exhausted: true, seq: 101n });
    expect(await reasons(campaignId)).toEqual([
      PauseReason.DAILY_BUDGET_EXHAUSTED,
      PauseReason.CAMPAIGN_BUDGET_EXHAUSTED,
    ]);
  });
});

describe("finding 3: the zone moved west before the first spend", () => {
  // 15:30Z: 00:30 of the next day in Tokyo, still 11:30 of this one in New York.
  const at = Date.UTC(2026, 5, 10, 15, 30);
  const tokyoDay = "2026-06-11";
  const newYorkDay = "2026-06-10";
  const open = (brandId: string, period: string, exhausted: boolean, seq: bigint) =>
    budgetSignal(store, brandId, PeriodKind.DAY, { kind: "open", period, exhausted, seq }, at);
  const moveToNewYork = (brandId: string, version: bigint) =>
    store.tx(
      async (client) => ({
        result: undefined,
        changes: await applyBrand(
          client,
          { id: brandId, archived: false, timeZone: "America/New_York", version: version + 1n },
          cause("brand"),
          new Date(at),
        ),
      }),
      at,
    );

  it("New York's day opening exhausted (a limit of 0) before the zone change reaches this service: paused once it does", async () => {
    const { brandId, campaignId, version } = await brandWithCampaign("Asia/Tokyo");
    await open(brandId, tokyoDay, false, 0n);
    await open(brandId, newYorkDay, true, 5n); // the reset clock, already in the new zone
    expect(await reasons(campaignId)).toEqual([]);
    await moveToNewYork(brandId, version);
    expect(await reasons(campaignId)).toEqual([PauseReason.DAILY_BUDGET_EXHAUSTED]);
  });

  it("the zone change first, then New York's day opening exhausted: paused", async () => {
    const { brandId, campaignId, version } = await brandWithCampaign("Asia/Tokyo");
    await open(brandId, tokyoDay, false, 0n);
    await moveToNewYork(brandId, version);
    await open(brandId, newYorkDay, true, 5n);
    expect(await reasons(campaignId)).toEqual([PauseReason.DAILY_BUDGET_EXHAUSTED]);
  });
});

describe("a cap event of tomorrow", () => {
  it("does not hide today's crossing that arrives after it", async () => {
    const { brandId, campaignId } = await brandWithCampaign();
    await budgetSignal(store, brandId, PeriodKind.DAY, { kind: "open", period: today(), exhausted: false, seq: 0n });
    const tomorrow = formatDate(addDays(localDate(h.now(), testZone()), 1));
    await capSignal(store, campaignId, { day: tomorrow, exhausted: true, seq: 50n }); // spend dated ahead crossed tomorrow's cap
    expect(await reasons(campaignId)).toEqual([]);
    await capSignal(store, campaignId, { day: today(), exhausted: true, seq: 40n }); // today's, committed first, delivered after
    expect(await reasons(campaignId)).toEqual([PauseReason.CAMPAIGN_BUDGET_EXHAUSTED]);
  });
});

describe("finding 3 through CreateCampaign: newer brand data arriving with a request", () => {
  it("a campaign created before the zone change's event reaches this service moves the brand's periods too", async () => {
    // Kiritimati (UTC+14) to Pago Pago (UTC-11): the local date moves back, at any hour.
    const { brand } = await h.brands.createBrand({
      name: `Races zone ${Math.random().toString(36).slice(2)}`,
      timeZone: "Pacific/Kiritimati",
    });
    const brandId = brand!.id;
    await h.campaigns.createCampaign({ brandId, name: "Before the move" });
    const kiritimatiDay = formatDate(localDate(h.now(), "Pacific/Kiritimati"));
    const pagoPagoDay = formatDate(localDate(h.now(), "Pacific/Pago_Pago"));
    await budgetSignal(store, brandId, PeriodKind.DAY, {
      kind: "open",
      period: kiritimatiDay,
      exhausted: false,
      seq: 0n,
    });
    // The zone changes while the campaign service is down, and its event is lost (a delayed one
    // would find the brand already at that version and change nothing).
    await h.stopCampaign();
    await h.brands.updateBrand({
      brand: { id: brandId, timeZone: "Pacific/Pago_Pago" },
      updateMask: { paths: ["time_zone"] },
    });
    await (await jetstreamManager(h.nc)).streams.purge(h.brandStream);
    await h.startCampaign();
    store = storeOn(h.campaignApp.pool);
    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "After the move" });
    // The reset clock, woken by the change, opens Pago Pago's day: a limit of 0.
    await budgetSignal(store, brandId, PeriodKind.DAY, { kind: "open", period: pagoPagoDay, exhausted: true, seq: 5n });
    expect(await reasons(campaign!.id)).toEqual([PauseReason.DAILY_BUDGET_EXHAUSTED]);
  });
});
