import { randomBytes } from "node:crypto";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Worker } from "@temporalio/worker";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevServer, eventually, startDevServer } from "@adbudget/testing";
import type { Activities } from "./activities.js";
import { budgetReset, campaignDaypart } from "./workflows.js";
import { WORKFLOWS_PATH } from "./worker.js";

/**
 * The clocks' timers are measured from after a turn's activities: a slow activity (a service
 * retried through an outage) must not make the next boundary late by its own duration. The
 * workflows run on a real dev server with activities that stand in for the services (workflow
 * logic only; the services' side is tested in clocks.test.ts). Their clock is shifted
 * (`clockOffsetMs`) so a minute boundary or a midnight is a few seconds away at any real hour.
 */
const SLOW_MS = 3000;
let server: DevServer;
let client: Client;
let connection: Connection;
beforeAll(async () => {
  server = await startDevServer();
  connection = await Connection.connect({ address: server.address });
  client = new Client({ connection });
}, 120_000);
afterAll(async () => {
  await connection?.close();
  await server?.stop();
});

/** A clock offset that puts "now" `leadMs` before a multiple of `unitMs` (a UTC minute or midnight). */
function offsetBefore(unitMs: number, leadMs: number): number {
  const real = Date.now();
  const boundary = Math.ceil((real + leadMs) / unitMs) * unitMs;
  return boundary - leadMs - real;
}

async function runWith(activities: Partial<Activities>, body: (taskQueue: string) => Promise<void>): Promise<void> {
  const taskQueue = `timers-${randomBytes(4).toString("hex")}`;
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: server.address }),
    taskQueue,
    workflowsPath: WORKFLOWS_PATH,
    activities,
  });
  await worker.runUntil(body(taskQueue));
}

describe("timers start after the turn's activities", () => {
  it("a daypart boundary is not late by a slow SetDaypartState", async () => {
    const offset = offsetBefore(60_000, 8000);
    const boundary = Math.ceil((Date.now() + offset) / 60_000) * 60_000;
    const minute = new Date(boundary).getUTCHours() * 60 + new Date(boundary).getUTCMinutes();
    const calls: { asOfMs: number; atMs: number }[] = [];
    await runWith(
      {
        // A window that ends at the boundary, every day, in UTC.
        loadDaypart: async () => ({
          exists: true,
          brandId: "b",
          zone: "UTC",
          windows: [
            { days: [1, 2, 3, 4, 5, 6, 7], start: (minute + 1440 - 60) % 1440, end: minute === 0 ? 1440 : minute },
          ],
          scheduleVersion: 1,
        }),
        setDaypartState: async (input) => {
          calls.push({ asOfMs: input.asOfMs, atMs: Date.now() + offset });
          if (calls.length === 1) await new Promise((r) => setTimeout(r, SLOW_MS));
          return true;
        },
      },
      async (taskQueue) => {
        const handle = await client.workflow.start(campaignDaypart, {
          workflowId: `campaign-daypart/t-${randomBytes(4).toString("hex")}`,
          taskQueue,
          args: [{ campaignId: "c", brandId: "b", clockOffsetMs: offset }],
        });
        await eventually(async () => calls.length >= 2, 30_000, "the boundary's call");
        await handle.terminate("test done");
      },
    );
    // The second call applies the boundary: on time, not SLOW_MS late.
    expect(calls[1].asOfMs).toBeGreaterThanOrEqual(boundary);
    expect(calls[1].asOfMs - boundary).toBeLessThan(SLOW_MS - 1000);
  }, 90_000);

  it("a local midnight is not late by slow openings of the day and month", async () => {
    const offset = offsetBefore(86_400_000, 8000);
    const midnight = Math.ceil((Date.now() + offset) / 86_400_000) * 86_400_000;
    const opens: { start: string; atMs: number }[] = [];
    await runWith(
      {
        loadBrand: async () => ({ exists: true, archived: false, timeZone: "UTC" }),
        openBudgetPeriod: async (input) => {
          opens.push({ start: input.start, atMs: Date.now() + offset });
          if (opens.length <= 2) await new Promise((r) => setTimeout(r, SLOW_MS / 2));
          return 0;
        },
      },
      async (taskQueue) => {
        const handle = await client.workflow.start(budgetReset, {
          workflowId: `budget-reset/t-${randomBytes(4).toString("hex")}`,
          taskQueue,
          args: [{ brandId: "b", clockOffsetMs: offset }],
        });
        await eventually(async () => opens.length >= 3, 30_000, "the midnight's opening");
        await handle.terminate("test done");
      },
    );
    const day = new Date(midnight).toISOString().slice(0, 10);
    expect(opens[2].start).toBe(day);
    expect(opens[2].atMs - midnight).toBeLessThan(SLOW_MS - 1000);
  }, 90_000);
});
