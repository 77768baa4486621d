import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { temporal } from "@temporalio/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { addDays, localDate, startOfDay, wallTime, type CalendarDate } from "@adbudget/time";
import { type ClocksHarness, eventually, startClocks, testBaseNow } from "@adbudget/testing";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { HISTORIES } from "./replay.test.js";
import { daypartWorkflowId } from "./shared.js";

/**
 * Flight dates through the real clock: a flight ending at a local midnight that daylight saving
 * removes. Havana springs forward AT midnight (00:00 becomes 01:00), so the first instant after
 * such an end date is 01:00 local, which is where the campaign must stop. The services and the
 * worker run on a CLOCK_OFFSET_MS that puts "now" a minute before that instant, at any real date.
 */
const ZONE = "America/Havana";
/** Time the harness has to start before the flight's end (its start takes seconds, more on a busy box). */
const LEAD_MS = 60_000;

/** The next day of ZONE whose first instant is not 00:00 (a DST gap swallows its midnight), within 400 days. */
function nextGapDay(from: number): CalendarDate {
  let day = localDate(from, ZONE);
  for (let i = 0; i < 400; i++, day = addDays(day, 1)) {
    if (wallTime(startOfDay(day, ZONE), ZONE).hour !== 0) return day;
  }
  throw new Error(`no DST gap at midnight in ${ZONE} within 400 days`);
}

const gapDay = nextGapDay(testBaseNow() + 86_400_000);
/** The first instant of the gap day: where a flight that ends the day before stops. */
const endsAt = startOfDay(gapDay, ZONE);

let h: ClocksHarness;
beforeAll(async () => {
  h = await startClocks({ system: { env: { CLOCK_OFFSET_MS: String(endsAt - LEAD_MS - Date.now()) } } });
}, 180_000);
afterAll(async () => {
  await h?.close();
});

describe("flight dates on the clock", () => {
  it("a flight ending at a DST-gap midnight stops at 01:00 local, one starting there starts, a later end date revives", async () => {
    expect(wallTime(endsAt, ZONE).hour).toBe(1);
    const { brand } = await h.system.brands.createBrand({ name: "Havana brand", timeZone: ZONE });
    const lastDay = addDays(gapDay, -1);
    const { campaign: ending } = await h.system.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Ends tonight",
      endDate: lastDay,
    });
    const { campaign: starting } = await h.system.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Starts tonight",
      startDate: gapDay,
    });
    expect(h.system.now(), "the harness took too long to start: the flight's end passed already").toBeLessThan(
      endsAt - 5_000,
    );
    expect(ending!.serving).toBe(true);
    expect(timestampMs(ending!.nextChangeTime!)).toBe(endsAt);
    expect(starting!.pauseReasons).toEqual([PauseReason.NOT_STARTED]);
    expect(timestampMs(starting!.nextChangeTime!)).toBe(endsAt);

    const get = async (id: string) => (await h.system.campaigns.getCampaign({ id })).campaign!;
    await eventually(
      async () => (await get(ending!.id)).pauseReasons.includes(PauseReason.ENDED),
      endsAt - h.system.now() + 20_000,
      "flight ended",
    );
    await eventually(async () => (await get(starting!.id)).serving, 20_000, "flight started");
    expect((await get(ending!.id)).pauseReasons).toEqual([PauseReason.ENDED]);

    const endLog = (await h.system.campaigns.listCampaignStateChanges({ campaignId: ending!.id })).changes;
    expect(endLog[0].cause).toBe("flight.end");
    expect(timestampMs(endLog[0].changeTime!)).toBeGreaterThanOrEqual(endsAt);
    const startLog = (await h.system.campaigns.listCampaignStateChanges({ campaignId: starting!.id })).changes;
    expect(startLog[0].cause).toBe("flight.start");
    expect(startLog[0].toReasons).toEqual([]);

    // With no schedule and nothing ahead, the ended campaign's clock finished its run.
    const handle = h.worker.client.workflow.getHandle(daypartWorkflowId(ending!.id));
    await eventually(async () => (await handle.describe()).status.name === "COMPLETED", 15_000, "clock finished");

    // A later end date revives it at once, and its clock runs again for the new end.
    const { campaign: revived } = await h.system.campaigns.updateCampaign({
      campaign: { id: ending!.id, endDate: gapDay },
      updateMask: { paths: ["end_date"] },
    });
    expect(revived!.serving).toBe(true);
    expect(timestampMs(revived!.nextChangeTime!)).toBe(startOfDay(addDays(gapDay, 1), ZONE));
    const next = () =>
      h.worker.client.workflow
        .getHandle(daypartWorkflowId(ending!.id))
        .query<{ nextBoundary: string | null }>("state")
        .then(
          (s) => s.nextBoundary,
          () => null,
        );
    await eventually(
      async () => (await next()) === new Date(startOfDay(addDays(gapDay, 1), ZONE)).toISOString(),
      15_000,
      "clock re-armed",
    );

    // The flight-only clock's whole run (not started, started, finished) is kept for replay.test.ts.
    const label = process.env.RECORD_HISTORIES;
    if (label !== undefined && /^[a-z0-9-]+$/.test(label)) {
      const run = h.worker.client.workflow.getHandle(daypartWorkflowId(starting!.id));
      await eventually(
        async () => (await run.describe()).status.name === "COMPLETED",
        15_000,
        "flight-only clock finished",
      );
      writeFileSync(
        join(HISTORIES, `campaign-daypart-${label}.binpb`),
        temporal.api.history.v1.History.encode(await run.fetchHistory()).finish(),
      );
    }
  }, 150_000);
});
