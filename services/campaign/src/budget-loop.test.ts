import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { jetstream } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDays, formatDate, localDate, periodsOf } from "@adbudget/time";
import { BudgetEventType, BudgetPeriodEventSchema } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { WatchEventType } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import {
  eventually,
  startSystemInProcess,
  type SystemHarness,
  testZone,
  watchCampaigns,
  spendOnce,
} from "@adbudget/testing";
import { lockedBrandState } from "./brand-state.js";
import { applyBudgetSignal } from "./budget-signals.js";

let h: SystemHarness;
beforeAll(async () => {
  h = await startSystemInProcess();
});
afterAll(async () => {
  await h?.close();
});

const spend = spendOnce(() => h.budget, "loop");

describe("the budget loop", () => {
  it("exhausting the daily budget stops every campaign of the brand, a raised limit brings them back, a user pause holds", async () => {
    const { brand } = await h.brands.createBrand({ name: "Loop brand", timeZone: "America/New_York" });
    const brandId = brand!.id;
    await h.budget.setBudget({ brandId, dailyLimitMicros: 10_000_000n });
    const ids: string[] = [];
    for (const name of ["Alpha", "Beta", "Gamma"])
      ids.push((await h.campaigns.createCampaign({ brandId, name })).campaign!.id);
    await h.campaigns.pauseCampaign({ id: ids[2] });

    const w = watchCampaigns(h.campaigns, brandId);
    await eventually(async () => w.seen.some((m) => m.type === WatchEventType.SNAPSHOT_COMPLETE), 5000, "snapshot");
    expect(
      w.seen.filter((m) => m.type === WatchEventType.SNAPSHOT).map((m) => [m.campaign?.name, m.campaign?.serving]),
    ).toEqual([
      ["Alpha", true],
      ["Beta", true],
      ["Gamma", false],
    ]);

    await spend(brandId, ids[0], 6_000_000n);
    await spend(brandId, ids[1], 5_000_000n); // 11 >= 10: exhausted
    await eventually(
      async () => {
        const { campaigns } = await h.campaigns.listCampaigns({ brandId });
        return campaigns.every((c) => c.pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED));
      },
      15_000,
      "campaigns paused by budget",
    );
    const paused = (await h.campaigns.listCampaigns({ brandId })).campaigns;
    expect(paused.map((c) => [c.name, c.serving, c.pauseReasons])).toEqual([
      ["Alpha", false, [PauseReason.DAILY_BUDGET_EXHAUSTED]],
      ["Beta", false, [PauseReason.DAILY_BUDGET_EXHAUSTED]],
      ["Gamma", false, [PauseReason.PAUSED_BY_USER, PauseReason.DAILY_BUDGET_EXHAUSTED]],
    ]);
    await eventually(
      async () =>
        w.seen.filter((m) => m.type === WatchEventType.CHANGED && m.change?.cause === "budget.exhausted").length === 3,
      5000,
      "watch changes",
    );

    await h.budget.setBudget({ brandId, dailyLimitMicros: 20_000_000n });
    await eventually(
      async () => {
        const { campaigns } = await h.campaigns.listCampaigns({ brandId });
        return campaigns.every((c) => !c.pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED));
      },
      15_000,
      "campaigns back",
    );
    const back = (await h.campaigns.listCampaigns({ brandId })).campaigns;
    expect(back.map((c) => [c.name, c.serving, c.enabled])).toEqual([
      ["Alpha", true, true],
      ["Beta", true, true],
      ["Gamma", false, false],
    ]);
    await eventually(
      async () => w.seen.filter((m) => m.change?.cause === "budget.replenished").length === 3,
      5000,
      "watch replenished",
    );
    await w.stop();

    // The audit log has every change, newest first, with its cause and source.
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId: ids[0] });
    expect(changes.map((c) => [c.cause, c.toServing])).toEqual([
      ["budget.replenished", true],
      ["budget.exhausted", false],
      ["create", true],
    ]);
    expect(changes[1].sourceId).toMatch(/^nats:/);
  });

  it("a campaign service that was down while events were published catches up on restart", async () => {
    const { brand } = await h.brands.createBrand({ name: "Catch-up brand", timeZone: testZone() });
    const brandId = brand!.id;
    await h.budget.setBudget({ brandId, dailyLimitMicros: 5n });
    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Sleeper" });
    // The budget service checks campaigns through the campaign service: learn this one first.
    await spend(brandId, campaign!.id, 1n);

    await h.stopCampaign();
    await spend(brandId, campaign!.id, 10n); // exhausts while the campaign service is down
    await eventually(async () => (await h.budgetApp.relay.pending()) === 0, 10_000, "published");
    await h.startCampaign();
    await eventually(
      async () => !(await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.serving,
      15_000,
      "caught up",
    );
    expect((await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.pauseReasons).toEqual([
      PauseReason.DAILY_BUDGET_EXHAUSTED,
    ]);
  });
});

describe("signals of one brand applied at once", () => {
  it("a transaction that waits for the brand's lock reads the flags the one it waited for committed", async () => {
    const { brand } = await h.brands.createBrand({ name: "Both at once", timeZone: testZone() });
    const brandId = brand!.id;
    await h.campaigns.createCampaign({ brandId, name: "Stopped" });
    const store = h.campaignApp.store;
    const today = formatDate(periodsOf(h.now(), testZone()).day);
    const [first, second] = [await store.pool.connect(), await store.pool.connect()];
    try {
      // The day's exhaustion holds the brand's lock, uncommitted; another signal's transaction
      // asks for the brand's state under the lock and waits.
      await first.query("begin");
      await applyBudgetSignal(
        first,
        brandId,
        PeriodKind.DAY,
        { kind: "event", period: today, exhausted: true, seq: 1n },
        { cause: "budget.exhausted", sourceId: "test" },
        new Date(h.now()),
      );
      await second.query("begin");
      const waiting = lockedBrandState(second, brandId);
      await new Promise((r) => setTimeout(r, 300));
      await first.query("commit");
      // A read under the lock whose snapshot predates the commit would say "not exhausted", and
      // a month exhaustion applied with it would drop the day's reason from every campaign.
      expect((await waiting)!.dayExhausted).toBe(true);
      await second.query("commit");
    } finally {
      first.release();
      second.release();
    }
  });
});

describe("replayed and reordered events", () => {
  it("change nothing twice, and a late event of an older period never pauses the newer one", async () => {
    const { brand } = await h.brands.createBrand({ name: "Replay brand", timeZone: testZone() });
    const brandId = brand!.id;
    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Steady" });
    const today = localDate(h.now(), testZone());
    const yesterday = addDays(today, -1);
    const js = jetstream(h.nc);
    const publish = (type: BudgetEventType, start: typeof today, sequence: bigint, id: string) =>
      js.publish(
        `${h.prefix}.budget.${type === BudgetEventType.EXHAUSTED ? "exhausted" : "replenished"}.${brandId}`,
        toBinary(
          BudgetPeriodEventSchema,
          create(BudgetPeriodEventSchema, {
            eventId: id,
            type,
            brandId,
            period: { kind: PeriodKind.DAY, start },
            spentMicros: 1n,
            limitMicros: 1n,
            sequence,
          }),
        ),
      );
    const audit = async () => (await h.campaigns.listCampaignStateChanges({ campaignId: campaign!.id })).changes;

    await publish(BudgetEventType.EXHAUSTED, today, 10n, "00000000-0000-7000-8000-00000000000a");
    await eventually(async () => (await audit()).length === 2, 10_000, "exhausted applied");
    // Replays (new message ids, same content) and an older sequence of the same period: nothing.
    await publish(BudgetEventType.EXHAUSTED, today, 10n, "00000000-0000-7000-8000-00000000000b");
    await publish(BudgetEventType.REPLENISHED, today, 9n, "00000000-0000-7000-8000-00000000000c");
    // A late event of yesterday: nothing either.
    await publish(BudgetEventType.REPLENISHED, yesterday, 99n, "00000000-0000-7000-8000-00000000000d");
    // Then the real replenishment, and its replay.
    await publish(BudgetEventType.REPLENISHED, today, 11n, "00000000-0000-7000-8000-00000000000e");
    await publish(BudgetEventType.REPLENISHED, today, 11n, "00000000-0000-7000-8000-00000000000f");
    await eventually(async () => (await audit()).length === 3, 10_000, "replenished applied");
    await new Promise((r) => setTimeout(r, 500));
    const changes = await audit();
    expect(changes.map((c) => c.cause)).toEqual(["budget.replenished", "budget.exhausted", "create"]);
    expect((await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.serving).toBe(true);

    // A reset for yesterday changes nothing; one for tomorrow opens a new, unexhausted period.
    await publish(BudgetEventType.EXHAUSTED, today, 12n, "00000000-0000-7000-8000-000000000010");
    await eventually(async () => (await audit()).length === 4, 10_000, "exhausted again");
    expect(
      (await h.campaignClock.openBudgetPeriod({ brandId, period: { kind: PeriodKind.DAY, start: yesterday } }))
        .campaignsChanged,
    ).toBe(0);
    expect(
      (await h.campaignClock.openBudgetPeriod({ brandId, period: { kind: PeriodKind.DAY, start: today } }))
        .campaignsChanged,
    ).toBe(0);
    const reset = await h.campaignClock.openBudgetPeriod({
      brandId,
      period: { kind: PeriodKind.DAY, start: addDays(today, 1) },
      sourceId: "test-reset",
    });
    expect(reset.campaignsChanged).toBe(1);
    expect((await audit())[0]).toMatchObject({ cause: "reset.day", sourceId: "test-reset", toServing: true });
    // Tomorrow is now the brand's current day: a late exhaustion of today pauses nothing.
    await publish(BudgetEventType.EXHAUSTED, today, 13n, "00000000-0000-7000-8000-000000000011");
    await new Promise((r) => setTimeout(r, 1000));
    expect((await audit()).length).toBe(5);
    expect((await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.serving).toBe(true);
  });
});

describe("spend against the budget service's view of campaigns", () => {
  it("unknown campaign -> NOT_FOUND, campaign of another brand -> FAILED_PRECONDITION", async () => {
    const a = (await h.brands.createBrand({ name: "Owner A" })).brand!.id;
    const b = (await h.brands.createBrand({ name: "Owner B" })).brand!.id;
    const { campaign } = await h.campaigns.createCampaign({ brandId: a, name: "A's" });
    const err = (p: Promise<unknown>) =>
      p.then(
        () => undefined,
        (e: unknown) => ConnectError.from(e).code,
      );
    expect(await err(spend(a, "01900000-0000-7000-8000-0000000000aa", 1n))).toBe(Code.NotFound);
    expect(await err(spend(b, campaign!.id, 1n))).toBe(Code.FailedPrecondition);
    expect((await spend(a, campaign!.id, 1n)).duplicate).toBe(false);
    const { events } = await h.budget.listSpendEvents({ brandId: b });
    expect(events).toEqual([]);
  });
});

describe("brand changes", () => {
  it("a brand's time zone can change until its first spend, then FAILED_PRECONDITION", async () => {
    const { brand } = await h.brands.createBrand({ name: "Zone lock", timeZone: "UTC" });
    const moved = await h.brands.updateBrand({
      brand: { id: brand!.id, timeZone: "Asia/Tokyo" },
      updateMask: { paths: ["time_zone"] },
    });
    expect(moved.brand!.timeZone).toBe("Asia/Tokyo");
    const { campaign } = await h.campaigns.createCampaign({ brandId: brand!.id, name: "Spender" });
    await spend(brand!.id, campaign!.id, 1n);
    const err = await h.brands
      .updateBrand({ brand: { id: brand!.id, timeZone: "Europe/Paris" }, updateMask: { paths: ["time_zone"] } })
      .then(
        () => undefined,
        (e: unknown) => ConnectError.from(e),
      );
    expect(err?.code).toBe(Code.FailedPrecondition);
    // Other fields still change.
    const renamed = await h.brands.updateBrand({
      brand: { id: brand!.id, name: "Zone lock 2" },
      updateMask: { paths: ["name"] },
    });
    expect(renamed.brand).toMatchObject({ name: "Zone lock 2", timeZone: "Asia/Tokyo" });
  });

  it("archiving a brand stops its campaigns with BRAND_ARCHIVED, through the brand events", async () => {
    const { brand } = await h.brands.createBrand({ name: "Archived later" });
    const { campaign } = await h.campaigns.createCampaign({ brandId: brand!.id, name: "Doomed" });
    expect(campaign!.serving).toBe(true);
    await h.brands.archiveBrand({ id: brand!.id });
    await eventually(
      async () => !(await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.serving,
      15_000,
      "archived",
    );
    const c = (await h.campaigns.getCampaign({ id: campaign!.id })).campaign!;
    expect(c.pauseReasons).toEqual([PauseReason.BRAND_ARCHIVED]);
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId: c.id });
    expect(changes[0]).toMatchObject({ cause: "brand.archived", toServing: false });
  });
});
