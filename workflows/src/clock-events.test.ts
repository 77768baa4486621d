import { create, toBinary } from "@bufbuild/protobuf";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignStateChangedEventSchema } from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";
import { DayOfWeek } from "@adbudget/proto/google/type/dayofweek_pb.js";
import { eventually, startClocks, type ClocksHarness } from "@adbudget/testing";
import { daypartWorkflowId } from "./shared.js";
import { stateQuery } from "./workflows.js";

/**
 * Issue 20, finding 5: the clocks worker's campaign consumer acts on the campaign as it is, not
 * on what a message says. A "schedule removed" event delivered late (a failed handler is retried
 * while later messages go on) used to stop the daypart clock of a campaign that had a schedule
 * again, until the next reconciliation (never, with RECONCILE_INTERVAL_MS=0).
 */
let h: ClocksHarness;
beforeAll(async () => {
  h = await startClocks({ workerEnv: { RECONCILE_INTERVAL_MS: "0" } });
}, 180_000);
afterAll(async () => {
  await h?.close();
});

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7] as DayOfWeek[];

/** The worker's campaign consumer has taken every message published so far. */
async function consumed(): Promise<void> {
  const jsm = await jetstreamManager(h.system.nc);
  await eventually(
    async () => {
      const info = await jsm.consumers.info(h.system.campaignStream, "clocks-campaign-events");
      return info.num_pending === 0 && info.num_ack_pending === 0;
    },
    15_000,
    "the clocks' campaign consumer caught up",
  );
}

/**
 * A new brand (UTC) with one campaign scheduled all day every day, and the handle of the
 * campaign's daypart clock once it runs: both tests start from a clock that is running, so what
 * they see after is the effect of the message or update they send, not of a clock still starting.
 */
async function scheduledCampaignClock(brandName: string, campaignName: string) {
  const { brand } = await h.system.brands.createBrand({ name: brandName, timeZone: "UTC" });
  if (brand === undefined) throw new Error("CreateBrand answered no brand");
  const { campaign } = await h.system.campaigns.createCampaign({
    brandId: brand.id,
    name: campaignName,
    schedule: { timeZone: "UTC", windows: [{ daysOfWeek: ALL_DAYS, start: "00:00", end: "24:00" }] },
  });
  if (campaign === undefined) throw new Error("CreateCampaign answered no campaign");
  const handle = h.worker.client.workflow.getHandle(daypartWorkflowId(campaign.id));
  await eventually(
    async () =>
      (await handle.describe().then(
        (d) => d.status.name,
        () => "none",
      )) === "RUNNING",
    15_000,
    "clock started",
  );
  return { campaign, handle };
}

describe("a late 'schedule removed' message", () => {
  it("does not end the clock of a campaign that has a schedule", async () => {
    const { campaign, handle } = await scheduledCampaignClock("Late stop", "Scheduled");
    await consumed();
    const before = await handle.query(stateQuery);

    // The message of an earlier update that removed the schedule, delivered now.
    const stale = create(CampaignStateChangedEventSchema, {
      campaign: { ...campaign, schedule: undefined, etag: "v0" },
    });
    await jetstream(h.system.nc).publish(
      `${h.system.prefix}.campaign.state.${campaign.id}`,
      toBinary(CampaignStateChangedEventSchema, stale),
    );
    await consumed();

    // The clock was told, reloaded the campaign, and runs on (it used to end: "stopped").
    await eventually(
      async () =>
        (await handle.describe()).status.name !== "RUNNING" ||
        (await handle.query(stateQuery)).iteration > before.iteration,
      15_000,
      "the clock handled the message",
    );
    expect((await handle.describe()).status.name).toBe("RUNNING");
    expect((await handle.query(stateQuery)).inWindow).toBe(true);
  }, 120_000);

  it("a campaign whose schedule really was removed has its clock end", async () => {
    const { campaign, handle } = await scheduledCampaignClock("Real stop", "Unscheduled soon");
    await h.system.campaigns.updateCampaign({ campaign: { id: campaign.id }, updateMask: { paths: ["schedule"] } });
    await eventually(async () => (await handle.describe()).status.name === "COMPLETED", 20_000, "clock ended");
    expect(await handle.result()).toBe("schedule removed");
  }, 120_000);
});
