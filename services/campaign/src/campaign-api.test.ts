import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { eventually, rejection, startSystemInProcess, type SystemHarness } from "@adbudget/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addDays, localDate, startOfDay } from "@adbudget/time";
import { DayOfWeek } from "@adbudget/proto/google/type/dayofweek_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { WatchEventType } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";

/** A date that can start a day but not a month. */
const SECOND = { year: 2026, month: 12, day: 2 };

let h: SystemHarness;
let brandId: string;
beforeAll(async () => {
  h = await startSystemInProcess({ campaignEnv: { WATCH_BUFFER: "5" } });
  brandId = (await h.brands.createBrand({ name: "Campaign API", timeZone: "Europe/London" })).brand!.id;
});
afterAll(async () => {
  await h?.close();
});

const fields = (e: ConnectError) =>
  e.findDetails(BadRequestSchema).flatMap((d) => d.fieldViolations.map((v) => v.field));
const MON = DayOfWeek.MONDAY;

describe("bad input -> the right code, never INTERNAL", () => {
  const window = (start: string, end: string, days = [MON]) => ({ daysOfWeek: days, start, end });
  it.each<[string, () => Promise<unknown>, Code, string | undefined]>([
    [
      "start 25:00",
      () => h.campaigns.createCampaign({ brandId, name: "x", schedule: { windows: [window("25:00", "26:00")] } }),
      Code.InvalidArgument,
      "schedule.windows[0].start",
    ],
    [
      "start == end",
      () => h.campaigns.createCampaign({ brandId, name: "x", schedule: { windows: [window("09:00", "09:00")] } }),
      Code.InvalidArgument,
      "schedule.windows[0].end",
    ],
    [
      "unknown weekday",
      () =>
        h.campaigns.createCampaign({
          brandId,
          name: "x",
          schedule: { windows: [window("09:00", "10:00", [9 as DayOfWeek])] },
        }),
      Code.InvalidArgument,
      "schedule.windows[0].days_of_week[0]",
    ],
    [
      "unspecified weekday",
      () => h.campaigns.createCampaign({ brandId, name: "x", schedule: { windows: [window("09:00", "10:00", [0])] } }),
      Code.InvalidArgument,
      "schedule.windows[0].days_of_week[0]",
    ],
    [
      "no weekday",
      () => h.campaigns.createCampaign({ brandId, name: "x", schedule: { windows: [window("09:00", "10:00", [])] } }),
      Code.InvalidArgument,
      "schedule.windows[0].days_of_week",
    ],
    [
      "bad zone",
      () =>
        h.campaigns.createCampaign({
          brandId,
          name: "x",
          schedule: { timeZone: "Mars/Olympus", windows: [window("09:00", "10:00")] },
        }),
      Code.InvalidArgument,
      "schedule.time_zone",
    ],
    [
      "abbreviation zone EST",
      () =>
        h.campaigns.createCampaign({
          brandId,
          name: "x",
          schedule: { timeZone: "EST", windows: [window("09:00", "10:00")] },
        }),
      Code.InvalidArgument,
      "schedule.time_zone",
    ],
    [
      "offset zone +05:00",
      () =>
        h.campaigns.createCampaign({
          brandId,
          name: "x",
          schedule: { timeZone: "+05:00", windows: [window("09:00", "10:00")] },
        }),
      Code.InvalidArgument,
      "schedule.time_zone",
    ],
    [
      "legacy zone in an update",
      () =>
        h.campaigns.updateCampaign({
          campaign: {
            id: "01900000-0000-7000-8000-0000000000ee",
            schedule: { timeZone: "US/Eastern", windows: [window("09:00", "10:00")] },
          },
          updateMask: { paths: ["schedule"] },
        }),
      Code.InvalidArgument,
      "campaign.schedule.time_zone",
    ],
    [
      "24:00 as a start",
      () => h.campaigns.createCampaign({ brandId, name: "x", schedule: { windows: [window("24:00", "10:00")] } }),
      Code.InvalidArgument,
      "schedule.windows[0].start",
    ],
    ["empty name", () => h.campaigns.createCampaign({ brandId, name: "" }), Code.InvalidArgument, "name"],
    [
      "unknown brand",
      () => h.campaigns.createCampaign({ brandId: "01900000-0000-7000-8000-0000000000ee", name: "x" }),
      Code.NotFound,
      undefined,
    ],
    [
      "unknown campaign",
      () => h.campaigns.getCampaign({ id: "01900000-0000-7000-8000-0000000000ee" }),
      Code.NotFound,
      undefined,
    ],
    ["page size 5000", () => h.campaigns.listCampaigns({ pageSize: 5000 }), Code.InvalidArgument, "page_size"],
    [
      "a month opened on the 2nd",
      () => h.campaignClock.openBudgetPeriod({ brandId, period: { kind: PeriodKind.MONTH, start: SECOND } }),
      Code.InvalidArgument,
      "period.start.day",
    ],
    [
      "a month opened on the 2nd, alone in a list",
      () =>
        h.campaignClock.openBudgetPeriods({
          brandId,
          periods: [{ period: { kind: PeriodKind.MONTH, start: SECOND } }],
        }),
      Code.InvalidArgument,
      "periods[0].period.start.day",
    ],
    [
      "a reconciled month starting on the 2nd",
      () =>
        h.campaignClock.reconcileBrand({
          brandId,
          day: { period: { kind: PeriodKind.DAY, start: SECOND } },
          month: { period: { kind: PeriodKind.MONTH, start: SECOND } },
        }),
      Code.InvalidArgument,
      "month.period.start.day",
    ],
  ])("%s", async (_name, call, code, field) => {
    const err = await rejection(call());
    expect(err.code).toBe(code);
    if (field) expect(fields(err)).toContain(field);
  });

  it("archived brand -> FAILED_PRECONDITION; stale etag -> ABORTED", async () => {
    const { brand } = await h.brands.createBrand({ name: "Gone" });
    await h.brands.archiveBrand({ id: brand!.id });
    expect((await rejection(h.campaigns.createCampaign({ brandId: brand!.id, name: "x" }))).code).toBe(
      Code.FailedPrecondition,
    );

    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Versioned" });
    await h.campaigns.updateCampaign({
      campaign: { id: campaign!.id, etag: campaign!.etag, name: "Versioned 2" },
      updateMask: { paths: ["name"] },
    });
    const stale = await rejection(
      h.campaigns.updateCampaign({
        campaign: { id: campaign!.id, etag: campaign!.etag, name: "Lost" },
        updateMask: { paths: ["name"] },
      }),
    );
    expect(stale.code).toBe(Code.Aborted);
    expect((await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.name).toBe("Versioned 2");
  });
});

describe("a schedule's own zone", () => {
  it("is a region zone or UTC, stored as spelled by the runtime; the refusal says what to send", async () => {
    const windows = [{ daysOfWeek: [MON], start: "09:00", end: "10:00" }];
    const { campaign } = await h.campaigns.createCampaign({
      brandId,
      name: "Zoned",
      schedule: { timeZone: "europe/paris", windows },
    });
    expect(campaign!.schedule!.timeZone).toBe("Europe/Paris");
    const err = await rejection(
      h.campaigns.createCampaign({ brandId, name: "Offset", schedule: { timeZone: "+05:00", windows } }),
    );
    expect(err.findDetails(BadRequestSchema)[0].fieldViolations[0].description).toMatch(
      /^"\+05:00" is not a region time zone: use an IANA Area\/Location zone/,
    );
  });
});

describe("schedules", () => {
  it("are normalized, decide OUTSIDE_DAYPART, and can be removed", async () => {
    const { campaign } = await h.campaigns.createCampaign({
      brandId,
      name: "Dayparted",
      schedule: {
        windows: [
          { daysOfWeek: [MON], start: "09:00", end: "12:00" },
          { daysOfWeek: [MON], start: "11:00", end: "13:00" },
          { daysOfWeek: [DayOfWeek.FRIDAY], start: "22:00", end: "24:00" },
          { daysOfWeek: [DayOfWeek.SATURDAY], start: "00:00", end: "02:00" },
        ],
      },
    });
    expect(campaign!.schedule!.windows.map((w) => [w.daysOfWeek, w.start, w.end])).toEqual([
      [[MON], "09:00", "13:00"],
      [[DayOfWeek.FRIDAY], "22:00", "02:00"],
    ]);
    // Create decides the daypart state from now; the clock RPC moves it (idempotently).
    const asOf = timestampFromMs(h.now());
    const out = await h.campaignClock.setDaypartState({
      campaignId: campaign!.id,
      inWindow: false,
      asOfTime: asOf,
      sourceId: "test",
    });
    expect(out.campaign!.pauseReasons).toEqual([PauseReason.OUTSIDE_DAYPART]);
    const again = await h.campaignClock.setDaypartState({
      campaignId: campaign!.id,
      inWindow: false,
      asOfTime: asOf,
      sourceId: "test",
    });
    expect(again.unchanged).toBe(true);
    const older = await h.campaignClock.setDaypartState({
      campaignId: campaign!.id,
      inWindow: true,
      asOfTime: timestampFromMs(h.now() - 60_000),
      sourceId: "test",
    });
    expect(older.unchanged).toBe(true);
    expect(older.campaign!.serving).toBe(false);

    const removed = await h.campaigns.updateCampaign({
      campaign: { id: campaign!.id },
      updateMask: { paths: ["schedule"] },
    });
    expect(removed.campaign!.schedule).toBeUndefined();
    expect(removed.campaign!.serving).toBe(true);
  });
});

describe("next_change_time and grouped clock writes", () => {
  const DAY = 86_400_000;
  // Every day 00:00-12:00 UTC: the next flip is the next 00:00 or 12:00 UTC after the as-of.
  const halfDays = { timeZone: "UTC", windows: [{ daysOfWeek: [1, 2, 3, 4, 5, 6, 7], start: "00:00", end: "12:00" }] };
  const nextHalfDay = (ms: number) => (Math.floor(ms / (DAY / 2)) + 1) * (DAY / 2);

  it("is the next flip of the daypart state from the instant the state is for, and absent without a schedule", async () => {
    const { campaign } = await h.campaigns.createCampaign({ brandId, name: "Half days", schedule: halfDays });
    expect(timestampMs(campaign!.nextChangeTime!)).toBe(nextHalfDay(h.now()));
    // A state computed for a later instant (a clock that ran late or early) ends at that instant's next flip.
    const asOf = Math.floor(h.now() / DAY) * DAY + DAY + 3 * 3_600_000; // tomorrow 03:00 UTC: inside
    const moved = await h.campaignClock.setDaypartState({
      campaignId: campaign!.id,
      inWindow: true,
      asOfTime: timestampFromMs(asOf),
      sourceId: "test",
      scheduleVersion: 1n,
    });
    expect(timestampMs(moved.campaign!.nextChangeTime!)).toBe(asOf - 3 * 3_600_000 + DAY / 2);
    expect(timestampMs((await h.campaigns.getCampaign({ id: campaign!.id })).campaign!.nextChangeTime!)).toBe(
      asOf - 3 * 3_600_000 + DAY / 2,
    );
    const plain = await h.campaigns.updateCampaign({
      campaign: { id: campaign!.id },
      updateMask: { paths: ["schedule"] },
    });
    expect(plain.campaign!.nextChangeTime).toBeUndefined();
  });

  it("applies a burst of clock calls in shared transactions, each with its own answer", async () => {
    const { brand } = await h.brands.createBrand({ name: "Burst", timeZone: "UTC" });
    const made = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        h.campaigns.createCampaign({ brandId: brand!.id, name: `b${i}`, schedule: halfDays }),
      ),
    );
    const asOf = timestampFromMs(h.now() + 1000);
    const flip = (c: (typeof made)[number]) => ({
      campaignId: c.campaign!.id,
      inWindow: c.campaign!.pauseReasons.length > 0,
      asOfTime: asOf,
      sourceId: "burst",
      scheduleVersion: 1n,
    });
    const unknown = "01900000-0000-7000-8000-0000000000ef";
    const results = await Promise.allSettled([
      ...made.map((c) => h.campaignClock.setDaypartState(flip(c))),
      h.campaignClock.setDaypartState({ ...flip(made[0]), campaignId: unknown }),
      h.campaignClock.setDaypartState(flip(made[1])), // the same call twice in one burst
    ]);
    const answers = results.map((r) => (r.status === "fulfilled" ? r.value : ConnectError.from(r.reason)));
    // Every flip changed its campaign; the unknown id alone is NOT_FOUND; the repeat changed nothing.
    expect(answers.slice(0, 40).map((a) => (a instanceof ConnectError ? a.code : a.unchanged))).toEqual(
      Array(40).fill(false),
    );
    expect((answers[40] as ConnectError).code).toBe(Code.NotFound);
    expect((answers[41] as { unchanged: boolean }).unchanged).toBe(true);
    for (const [i, c] of made.entries()) {
      const after = (answers[i] as { campaign?: { serving: boolean } }).campaign!;
      expect(after.serving).toBe(c.campaign!.pauseReasons.length > 0);
    }
    // One audit row per campaign for the flip: a burst is not recorded twice.
    const { changes } = await h.campaigns.listCampaignStateChanges({ brandId: brand!.id, pageSize: 200 });
    expect(changes.filter((c) => c.cause === "daypart").length).toBe(40);
    expect(new Set(changes.filter((c) => c.cause === "daypart").map((c) => c.campaignId)).size).toBe(40);
  });
});

describe("pause, resume, delete, and the watch stream", () => {
  it("streams the snapshot, every change, and deletes", async () => {
    const { brand } = await h.brands.createBrand({ name: "Watched" });
    const { campaign } = await h.campaigns.createCampaign({ brandId: brand!.id, name: "Busy" });
    const id = campaign!.id;
    await h.campaigns.pauseCampaign({ id });
    await h.campaigns.resumeCampaign({ id });

    // A fresh watcher gets the current state, then the delete.
    const seen: { type: WatchEventType; serving?: boolean }[] = [];
    const abort = new AbortController();
    const reading = (async () => {
      try {
        for await (const m of h.campaigns.watchCampaigns({ brandId: brand!.id }, { signal: abort.signal }))
          seen.push({ type: m.type, serving: m.campaign?.serving });
      } catch {
        // aborted
      }
    })();
    await eventually(async () => seen.some((s) => s.type === WatchEventType.SNAPSHOT_COMPLETE), 5000, "snapshot");
    await h.campaigns.pauseCampaign({ id });
    await eventually(
      async () => seen.some((s) => s.type === WatchEventType.CHANGED && s.serving === false),
      5000,
      "pause seen",
    );
    await h.campaigns.deleteCampaign({ id });
    await eventually(async () => seen.some((s) => s.type === WatchEventType.DELETED), 5000, "delete seen");
    abort.abort();
    await reading;
    expect(seen[0]).toEqual({ type: WatchEventType.SNAPSHOT, serving: true });
    expect((await rejection(h.campaigns.getCampaign({ id }))).code).toBe(Code.NotFound);
    // The audit log outlives the campaign.
    const { changes } = await h.campaigns.listCampaignStateChanges({ campaignId: id, pageSize: 100 });
    // Deleted while paused: no serving change to record for the delete itself.
    expect(changes.map((c) => c.cause)).toEqual(["user.pause", "user.resume", "user.pause", "create"]);
  });
});

describe("flight dates and the cap (fields)", () => {
  const ZONE = "Europe/London";
  const today = () => localDate(h.now(), ZONE);

  it.each<[string, () => Promise<unknown>, string]>([
    [
      "an end before the start",
      () =>
        h.campaigns.createCampaign({
          brandId,
          name: "x",
          startDate: addDays(today(), 2),
          endDate: addDays(today(), 1),
        }),
      "end_date",
    ],
    [
      "month 13",
      () => h.campaigns.createCampaign({ brandId, name: "x", startDate: { year: 2027, month: 13, day: 1 } }),
      "start_date.month",
    ],
    [
      "February 30",
      () => h.campaigns.createCampaign({ brandId, name: "x", endDate: { year: 2027, month: 2, day: 30 } }),
      "end_date.day",
    ],
    [
      "year 0",
      () => h.campaigns.createCampaign({ brandId, name: "x", endDate: { year: 0, month: 1, day: 1 } }),
      "end_date.year",
    ],
    [
      "a negative cap",
      () => h.campaigns.createCampaign({ brandId, name: "x", dailyLimitMicros: -1n }),
      "daily_limit_micros",
    ],
    // A cap of 0 would pause the campaign only on days it spent: a campaign that may not spend is paused instead.
    [
      "a cap of 0",
      () => h.campaigns.createCampaign({ brandId, name: "x", dailyLimitMicros: 0n }),
      "daily_limit_micros",
    ],
  ])("%s -> INVALID_ARGUMENT naming the field", async (_name, call, field) => {
    const err = await rejection(call());
    expect(err.code).toBe(Code.InvalidArgument);
    expect(fields(err)).toContain(field);
  });

  it("judges the flight at create, stores the fields, and moves with updates (a later end revives)", async () => {
    const tomorrow = addDays(today(), 1);
    const { campaign: future } = await h.campaigns.createCampaign({
      brandId,
      name: "Starts tomorrow",
      startDate: tomorrow,
      dailyLimitMicros: 5_000_000n,
    });
    expect(future!.pauseReasons).toEqual([PauseReason.NOT_STARTED]);
    expect(timestampMs(future!.nextChangeTime!)).toBe(startOfDay(tomorrow, ZONE));
    expect(future!.startDate).toMatchObject(tomorrow);
    expect(future!.endDate).toBeUndefined();
    expect(future!.dailyLimitMicros).toBe(5_000_000n);

    const yesterday = addDays(today(), -1);
    const { campaign: ended } = await h.campaigns.createCampaign({
      brandId,
      name: "Ended",
      startDate: addDays(today(), -7),
      endDate: yesterday,
    });
    expect(ended!.pauseReasons).toEqual([PauseReason.ENDED]);
    expect(ended!.nextChangeTime).toBeUndefined();

    // The end moved to today: serving at once, until tomorrow's first instant.
    const { campaign: revived } = await h.campaigns.updateCampaign({
      campaign: { id: ended!.id, endDate: today() },
      updateMask: { paths: ["end_date"] },
    });
    expect(revived!.serving).toBe(true);
    expect(timestampMs(revived!.nextChangeTime!)).toBe(startOfDay(tomorrow, ZONE));
    const log = (await h.campaigns.listCampaignStateChanges({ campaignId: ended!.id })).changes;
    expect(log[0]).toMatchObject({ cause: "update", fromReasons: [PauseReason.ENDED], toServing: true });

    // A start after the stored end is refused and changes nothing.
    const err = await rejection(
      h.campaigns.updateCampaign({
        campaign: { id: ended!.id, startDate: tomorrow },
        updateMask: { paths: ["start_date"] },
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(fields(err)).toContain("campaign.start_date");
    expect((await h.campaigns.getCampaign({ id: ended!.id })).campaign!.etag).toBe(revived!.etag);

    // Masked and unset: removed. The cap likewise.
    const { campaign: open } = await h.campaigns.updateCampaign({
      campaign: { id: future!.id },
      updateMask: { paths: ["start_date", "daily_limit_micros"] },
    });
    expect(open!.serving).toBe(true);
    expect(open!.startDate).toBeUndefined();
    expect(open!.dailyLimitMicros).toBeUndefined();
    expect(open!.nextChangeTime).toBeUndefined();

    // The last day a google.type.Date allows: it ends past what a Timestamp can carry, so no next change.
    const { campaign: forever } = await h.campaigns.createCampaign({
      brandId,
      name: "Until 9999",
      endDate: { year: 9999, month: 12, day: 31 },
    });
    expect(forever!.serving).toBe(true);
    expect(forever!.nextChangeTime).toBeUndefined();
  });
});
