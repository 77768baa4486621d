import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { temporal } from "@temporalio/proto";
import { Client, Connection } from "@temporalio/client";
import { Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import {
  formatClock,
  formatDate,
  localDate,
  nextBoundary,
  nextDayStart,
  normalizeWindows,
  parseClock,
  parseDate,
  startOfDay,
} from "@adbudget/time";
import { type ClocksHarness, eventually, startClocks } from "@adbudget/testing";
import { DayOfWeek } from "@adbudget/proto/google/type/dayofweek_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { createActivities } from "@adbudget/workflows";
import { daypartWorkflowId, RECONCILE_WORKFLOW_ID, resetWorkflowId } from "./shared.js";
import { WORKFLOWS_PATH } from "./worker.js";
import { HISTORIES } from "./replay.test.js";
import { resetStateQuery, type ResetState } from "./workflows.js";

let h: ClocksHarness;
beforeAll(async () => {
  h = await startClocks();
}, 180_000);
afterAll(async () => {
  await h?.close();
});

const MINUTE = 60_000;
const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7] as DayOfWeek[];
/** A UTC window [from, to) as HH:MM strings on every day (from and to are minute instants). */
const windowOf = (fromMs: number, toMs: number) => ({
  daysOfWeek: ALL_DAYS,
  start: formatClock(Math.floor((fromMs % 86_400_000) / MINUTE)),
  end:
    formatClock(Math.floor((toMs % 86_400_000) / MINUTE)) === "00:00"
      ? "24:00"
      : formatClock(Math.floor((toMs % 86_400_000) / MINUTE)),
});

async function campaignState(id: string) {
  return (await h.system.campaigns.getCampaign({ id })).campaign!;
}

describe("daypart clock", () => {
  it("stops serving at the window's end and serves again at the next window's start", async () => {
    const { brand } = await h.system.brands.createBrand({ name: "Dayparted brand", timeZone: "UTC" });
    // The next whole minute at least 8 s away ends the window; the next one starts after a minute out.
    const now = h.system.now();
    let end = Math.ceil(now / MINUTE) * MINUTE;
    if (end - now < 8000) end += MINUTE;
    const startAgain = end + MINUTE;
    const { campaign } = await h.system.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Short window",
      schedule: {
        timeZone: "UTC",
        windows: [windowOf(end - 30 * MINUTE, end), windowOf(startAgain, startAgain + 30 * MINUTE)],
      },
    });
    expect(campaign!.serving).toBe(true);
    await eventually(
      async () => !(await campaignState(campaign!.id)).serving,
      end - h.system.now() + 15_000,
      "out of window",
    );
    const out = await campaignState(campaign!.id);
    expect(out.pauseReasons).toEqual([PauseReason.OUTSIDE_DAYPART]);
    expect(h.system.now()).toBeGreaterThanOrEqual(end);
    await eventually(
      async () => (await campaignState(campaign!.id)).serving,
      startAgain - h.system.now() + 15_000,
      "back in window",
    );
    expect(h.system.now()).toBeGreaterThanOrEqual(startAgain);

    const { changes } = await h.system.campaigns.listCampaignStateChanges({ campaignId: campaign!.id });
    const daypart = changes.filter((c) => c.cause === "daypart");
    expect(daypart.map((c) => c.toServing)).toEqual([true, false]);
    expect(daypart[0].sourceId).toMatch(new RegExp(`^${daypartWorkflowId(campaign!.id)}/`));
    // The operator's view: the workflow is findable by its search attributes.
    await eventually(
      async () => {
        for await (const wf of h.worker.client.workflow.list({ query: `CampaignId = "${campaign!.id}"` }))
          return wf.workflowId === daypartWorkflowId(campaign!.id);
        return false;
      },
      10_000,
      "visibility",
    );
  }, 200_000);

  it("a schedule change takes effect without waiting for the old boundary", async () => {
    const { brand } = await h.system.brands.createBrand({ name: "Rescheduled brand", timeZone: "UTC" });
    const now = h.system.now();
    const { campaign } = await h.system.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Long window",
      schedule: { timeZone: "UTC", windows: [windowOf(now - 10 * MINUTE, now + 120 * MINUTE)] },
    });
    await eventually(
      async () =>
        await h.worker.client.workflow
          .getHandle(daypartWorkflowId(campaign!.id))
          .describe()
          .then(
            () => true,
            () => false,
          ),
      15_000,
      "workflow started",
    );
    // Move the window to later today: the campaign is out now, long before the old boundary.
    await h.system.campaigns.updateCampaign({
      campaign: {
        id: campaign!.id,
        schedule: { timeZone: "UTC", windows: [windowOf(now + 180 * MINUTE, now + 200 * MINUTE)] },
      },
      updateMask: { paths: ["schedule"] },
    });
    await eventually(
      async () => (await campaignState(campaign!.id)).pauseReasons.includes(PauseReason.OUTSIDE_DAYPART),
      15_000,
      "rescheduled",
    );
    // Removing the schedule ends the clock and the campaign serves always.
    await h.system.campaigns.updateCampaign({ campaign: { id: campaign!.id }, updateMask: { paths: ["schedule"] } });
    await eventually(async () => (await campaignState(campaign!.id)).serving, 10_000, "no schedule");
    const result = await h.worker.client.workflow.getHandle(daypartWorkflowId(campaign!.id)).result();
    expect(["stopped", "schedule removed"]).toContain(result);
  }, 60_000);
});

describe("a brand's zone change", () => {
  it("reaches the daypart clocks of its campaigns scheduled in the brand's zone", async () => {
    const { brand } = await h.system.brands.createBrand({ name: "Moving brand", timeZone: "UTC" });
    const now = h.system.now();
    const windows = [windowOf(now - 10 * MINUTE, now + 120 * MINUTE)];
    const { campaign } = await h.system.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Follows its brand",
      schedule: { windows },
    });
    const handle = h.worker.client.workflow.getHandle(daypartWorkflowId(campaign!.id));
    const boundary = (zone: string) => {
      const parsed = windows.map((w) => ({
        days: [...w.daysOfWeek],
        start: parseClock(w.start, false)!,
        end: parseClock(w.end, true)!,
      }));
      return new Date(nextBoundary(h.system.now(), normalizeWindows(parsed), zone)!).toISOString();
    };
    const state = () =>
      handle.query<{ nextBoundary: string | null }>("state").then(
        (s) => s.nextBoundary,
        () => null,
      );
    await eventually(async () => (await state()) === boundary("UTC"), 15_000, "clock in UTC");
    await h.system.brands.updateBrand({
      brand: { id: brand!.id, timeZone: "Pacific/Kiritimati" },
      updateMask: { paths: ["time_zone"] },
    });
    await eventually(async () => (await state()) === boundary("Pacific/Kiritimati"), 15_000, "clock in the new zone");
  }, 60_000);
});

describe("budget reset clock", () => {
  it("a reset brings back campaigns paused by an older day (after the worker was down); a month exhaustion holds", async () => {
    // The worker is down while the brand is created and its yesterday runs out: the campaign
    // pauses on a flag of yesterday, and nothing opens today until the worker is back.
    await h.stopWorker();
    const { brand } = await h.system.brands.createBrand({ name: "Reset brand", timeZone: "Asia/Kathmandu" });
    const brandId = brand!.id;
    const { campaign } = await h.system.campaigns.createCampaign({ brandId, name: "Reset me" });
    // Yesterday opened exhausted (a limit of 0 then), as the reset clock applied it before it went down.
    const yesterday = localDate(h.system.now() - 86_400_000, "Asia/Kathmandu");
    await h.system.campaignClock.openBudgetPeriod({
      brandId,
      period: { kind: PeriodKind.DAY, start: yesterday },
      exhausted: true,
      sequence: 1n,
      sourceId: "test:yesterday",
    });
    await eventually(async () => !(await campaignState(campaign!.id)).serving, 15_000, "paused by yesterday");

    await h.restartWorker();
    // The brand event starts the reset clock, whose first turn opens today: the older flag clears.
    await eventually(async () => (await campaignState(campaign!.id)).serving, 30_000, "reset");
    const { changes } = await h.system.campaigns.listCampaignStateChanges({ campaignId: campaign!.id });
    expect(changes[0]).toMatchObject({ cause: "reset.day", toServing: true });
    expect(changes[0].sourceId).toMatch(new RegExp(`^${resetWorkflowId(brandId)}/`));

    // This month runs out (a monthly limit of 0: whatever the date, even on the 1st when
    // yesterday's spend belongs to last month): a reset run does not bring the campaign back.
    await h.system.budget.setBudget({ brandId, dailyLimitMicros: 1_000_000n, monthlyLimitMicros: 0n });
    await eventually(
      async () => (await campaignState(campaign!.id)).pauseReasons.includes(PauseReason.MONTHLY_BUDGET_EXHAUSTED),
      15_000,
      "month exhausted",
    );
    await h.worker.client.workflow.getHandle(resetWorkflowId(brandId)).signal("zoneChanged");
    await new Promise((r) => setTimeout(r, 2000));
    expect((await campaignState(campaign!.id)).pauseReasons).toEqual([PauseReason.MONTHLY_BUDGET_EXHAUSTED]);
  }, 90_000);

  it("answers the state query: the zone, the day it opened, the next reset, and follows a zone change", async () => {
    const { brand } = await h.system.brands.createBrand({ name: "Queried reset", timeZone: "Asia/Kathmandu" });
    const handle = h.worker.client.workflow.getHandle(resetWorkflowId(brand!.id));
    const state = () => handle.query(resetStateQuery).catch(() => undefined);
    /** The answer once its turn has opened a day of `zone`, checked against the pure calendar. */
    const opened = async (zone: string) => {
      let answer: ResetState | undefined;
      await eventually(
        async () => {
          answer = await state();
          return answer?.zone === zone && answer.day !== null;
        },
        15_000,
        `a day opened in ${zone}`,
      );
      const day = parseDate(answer!.day!);
      // The day is today in the zone (or tomorrow, if its midnight fell meanwhile), and the
      // clock wakes at the first instant of the day after it.
      expect([
        formatDate(localDate(h.system.now(), zone)),
        formatDate(localDate(h.system.now() - 60_000, zone)),
      ]).toContain(answer!.day);
      expect(answer!.nextReset).toBe(new Date(nextDayStart(startOfDay(day, zone), zone).at).toISOString());
      return answer!;
    };
    const first = await opened("Asia/Kathmandu");
    await h.system.brands.updateBrand({
      brand: { id: brand!.id, timeZone: "Pacific/Kiritimati" },
      updateMask: { paths: ["time_zone"] },
    });
    const moved = await opened("Pacific/Kiritimati");
    expect(moved.iteration).toBeGreaterThan(first.iteration);
  }, 60_000);
});

/** A clocks worker as an OS process of its own: the built worker-main, configured by environment only. */
interface WorkerProcess {
  pid: number;
  /** Resolves when the process has exited (and been reaped): its exit code or the signal that ended it. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const WORKER_MAIN = fileURLToPath(new URL("../dist/worker-main.js", import.meta.url));

/** Starts worker-main with `env` and waits until it polls its task queue ("clocks worker running"). */
async function startWorkerProcess(env: Record<string, string>): Promise<WorkerProcess> {
  if (!existsSync(WORKER_MAIN)) throw new Error(`${WORKER_MAIN} is missing: build the workflows package first`);
  const child = spawn(process.execPath, [WORKER_MAIN], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error("the worker process did not start");
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const ready = new Promise<void>((resolve, reject) => {
    /** Whole lines only: a line may arrive split across chunks. */
    const reader = () => {
      let rest = "";
      return (chunk: Buffer) => {
        const parts = (rest + chunk.toString()).split("\n");
        rest = parts.pop() ?? "";
        for (const line of parts.filter((l) => l !== "")) {
          lines.push(line);
          if (lines.length > 50) lines.shift();
          if (line.includes('"msg":"clocks worker running"')) resolve();
        }
      };
    };
    child.stdout.on("data", reader());
    child.stderr.on("data", reader());
    void exited.then(({ code, signal }) =>
      reject(new Error(`the worker process exited (${code ?? signal}) before it ran:\n${lines.slice(-20).join("\n")}`)),
    );
  });
  const timeout = setTimeout(() => child.kill("SIGKILL"), 60_000);
  try {
    await ready;
  } finally {
    clearTimeout(timeout);
  }
  return { pid, exited };
}

/** `promise`, or an error naming `what` when it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a process of that id exists (signal 0 checks without sending anything). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return !(err instanceof Error && "code" in err && err.code === "ESRCH");
  }
}

describe("a worker killed while timers are pending", () => {
  it("a worker process killed with SIGKILL: the due transition waits for a new process, which applies it once", async () => {
    // The only worker on the task queue is a separate process: the in-process one steps aside,
    // and reconciliation (which would repair the daypart state too) is ended for the duration,
    // so nothing but the daypart workflow's timer can apply the boundary. The test queries and
    // terminates through its own Temporal client (the in-process worker's closes with it).
    const connection = await Connection.connect({ address: h.temporal.address });
    const client = new Client({ connection });
    const env = { ...h.workerEnv, LOG_LEVEL: "info", RECONCILE_INTERVAL_MS: "0" };
    const started: WorkerProcess[] = [];
    try {
      // (Running unless a test before this one failed while it was stopped.)
      if (h.worker.worker.getState() === "RUNNING")
        await within(h.stopWorker(), 30_000, "the in-process worker to stop");
      await client.workflow
        .getHandle(RECONCILE_WORKFLOW_ID)
        .terminate("test: only the daypart timer may apply the boundary");
      const first = await startWorkerProcess(env);
      started.push(first);
      const { brand } = await h.system.brands.createBrand({ name: "Crash brand", timeZone: "UTC" });
      // The window ends at the next whole minute at least 20 s away: time for the clock to start.
      const now = h.system.now();
      let end = Math.ceil(now / MINUTE) * MINUTE;
      if (end - now < 20_000) end += MINUTE;
      const { campaign } = await h.system.campaigns.createCampaign({
        brandId: brand!.id,
        name: "Crash window",
        schedule: { timeZone: "UTC", windows: [windowOf(end - 30 * MINUTE, end)] },
      });
      const handle = client.workflow.getHandle(daypartWorkflowId(campaign!.id));
      const boundary = () =>
        handle.query<{ nextBoundary: string | null }>("state").then(
          (st) => st.nextBoundary,
          () => null,
        );
      await eventually(
        async () => (await boundary()) === new Date(end).toISOString(),
        20_000,
        "the clock's timer set for the window's end",
      );
      expect(h.system.now()).toBeLessThan(end);

      // The fault: SIGKILL (no shutdown, nothing flushed). It took effect: the process died of
      // that signal and its pid is gone.
      process.kill(first.pid, "SIGKILL");
      expect(await within(first.exited, 10_000, "the killed worker to exit")).toEqual({
        code: null,
        signal: "SIGKILL",
      });
      expect(processExists(first.pid)).toBe(false);

      // The boundary passes with no worker: nobody applies it.
      await eventually(async () => h.system.now() >= end + 2000, end - h.system.now() + 10_000, "the boundary passed");
      expect((await campaignState(campaign!.id)).serving).toBe(true);

      // A new worker process (a new pid) takes over and applies the late boundary.
      const second = await startWorkerProcess(env);
      started.push(second);
      expect(second.pid).not.toBe(first.pid);
      expect(processExists(second.pid)).toBe(true);
      await eventually(async () => !(await campaignState(campaign!.id)).serving, 45_000, "late boundary applied");
      // Once: the clock has moved on to its next boundary (tomorrow's window start), so a repeat
      // of this one could only have come before now.
      await eventually(async () => Date.parse((await boundary()) ?? "") > end, 15_000, "the clock past the boundary");
      const { changes } = await h.system.campaigns.listCampaignStateChanges({ campaignId: campaign!.id });
      const daypart = changes.filter((c) => c.cause === "daypart");
      expect(daypart.map((c) => c.toServing)).toEqual([false]);
      expect(daypart[0].sourceId).toMatch(new RegExp(`^${daypartWorkflowId(campaign!.id)}/`));
      // Applied after the boundary, by the new process (the services' clock: CLOCK_OFFSET_MS).
      expect(timestampMs(daypart[0].changeTime!)).toBeGreaterThanOrEqual(end);
    } finally {
      for (const p of started) {
        if (processExists(p.pid)) process.kill(p.pid, "SIGTERM");
        await within(p.exited, 30_000, "a worker process to stop").catch(
          () => processExists(p.pid) && process.kill(p.pid, "SIGKILL"),
        );
      }
      await connection.close();
      await h.restartWorker();
      // Reconciliation is back (the restarted worker starts it) before the next test relies on it.
      await eventually(
        () =>
          h.worker.client.workflow
            .getHandle(RECONCILE_WORKFLOW_ID)
            .query<{ passes: number }>("totals")
            .then(
              (t) => t.passes >= 1,
              () => false,
            ),
        30_000,
        "reconciliation running again",
      );
    }
  }, 360_000);
});

describe("reconciliation", () => {
  it("restarts a missing clock and repairs a wrong daypart state, counting what it repaired", async () => {
    const { brand } = await h.system.brands.createBrand({ name: "Drifting brand", timeZone: "UTC" });
    const now = h.system.now();
    const { campaign } = await h.system.campaigns.createCampaign({
      brandId: brand!.id,
      name: "Drifter",
      schedule: { timeZone: "UTC", windows: [windowOf(now - 10 * MINUTE, now + 120 * MINUTE)] },
    });
    const handle = h.worker.client.workflow.getHandle(daypartWorkflowId(campaign!.id));
    await eventually(
      () =>
        handle.describe().then(
          (d) => d.status.name === "RUNNING",
          () => false,
        ),
      15_000,
      "clock",
    );
    // Drift: the clock is gone, and the state says outside although now is inside.
    await handle.terminate("test: simulated drift");
    await h.system.campaignClock.setDaypartState({
      campaignId: campaign!.id,
      inWindow: false,
      asOfTime: timestampFromMs(h.system.now()),
      sourceId: "test",
    });
    expect((await campaignState(campaign!.id)).serving).toBe(false);

    const activities = createActivities({
      brands: h.system.brands,
      campaigns: h.system.campaigns,
      campaignClock: h.system.campaignClock,
      budgetClock: h.system.budgetClock,
      clockWorkflows: h.worker.clockWorkflows,
    });
    const counts = await activities.reconcile({ nowMs: h.system.now() + 1000, sourceId: "test-reconcile" });
    expect(counts.daypartClocksStarted).toBeGreaterThanOrEqual(1);
    expect(counts.daypartStatesRepaired).toBeGreaterThanOrEqual(1);
    expect(counts.campaignsChecked).toBeGreaterThanOrEqual(1);
    expect((await campaignState(campaign!.id)).serving).toBe(true);
    await eventually(
      () =>
        h.worker.client.workflow
          .getHandle(daypartWorkflowId(campaign!.id))
          .describe()
          .then(
            (d) => d.status.name === "RUNNING",
            () => false,
          ),
      15_000,
      "clock restarted",
    );
    // A second pass finds nothing to repair.
    const again = await activities.reconcile({ nowMs: h.system.now() + 2000, sourceId: "test-reconcile" });
    expect(again.daypartClocksStarted + again.daypartStatesRepaired + again.resetClocksStarted).toBe(0);
    // The periodic workflow runs and reports its totals.
    const totals = await h.worker.client.workflow.getHandle(RECONCILE_WORKFLOW_ID).query<{ passes: number }>("totals");
    expect(totals.passes).toBeGreaterThanOrEqual(1);
  }, 60_000);
});

describe("deterministic replay", () => {
  it("replays the recorded histories of both workflows with the current code", async () => {
    const handles = [];
    for await (const wf of h.worker.client.workflow.list({ query: `TaskQueue = "${h.taskQueue}"` }))
      handles.push(wf.workflowId);
    expect(handles.some((id) => id.startsWith("campaign-daypart/"))).toBe(true);
    expect(handles.some((id) => id.startsWith("budget-reset/"))).toBe(true);
    for (const id of handles) {
      const history = await h.worker.client.workflow.getHandle(id).fetchHistory();
      await Worker.runReplayHistory({ workflowsPath: WORKFLOWS_PATH }, history, id);
      // RECORD_HISTORIES=<label> stores these histories for replay.test.ts as <workflow>-<label>.binpb.
      const label = process.env.RECORD_HISTORIES;
      if (label !== undefined && /^[a-z0-9-]+$/.test(label)) {
        const kind = id.split("/")[0];
        writeFileSync(
          join(HISTORIES, `${kind}-${label}.binpb`),
          temporal.api.history.v1.History.encode(history).finish(),
        );
      }
    }
  }, 120_000);
});
