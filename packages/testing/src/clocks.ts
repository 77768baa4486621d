import { randomBytes } from "node:crypto";
import { createLogger } from "@adbudget/kit";
import { readWorkerConfig, startWorker, type RunningWorker } from "@adbudget/workflows";
import { NATS_URL } from "./nats.js";
import { startSystemInProcess, type SystemHarness } from "./launcher-in-process.js";
import { startDevServer, type DevServer } from "./temporal-dev-server.js";

export interface ClocksHarness {
  system: SystemHarness;
  temporal: DevServer;
  worker: RunningWorker;
  taskQueue: string;
  /** The worker's settings as environment variables: what a separate worker process (worker-main) needs to join. */
  workerEnv: Record<string, string>;
  restartWorker(): Promise<void>;
  stopWorker(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The whole system plus a Temporal dev server and a clocks worker on this test's own task queue.
 * `system`: startSystemInProcess's options; `workerEnv`: the worker's own settings, over the harness's.
 */
export async function startClocks(
  options: { system?: Parameters<typeof startSystemInProcess>[0]; workerEnv?: Record<string, string> } = {},
): Promise<ClocksHarness> {
  const [system, temporal] = await Promise.all([startSystemInProcess(options.system), startDevServer()]);
  const taskQueue = `adbudget-test-${randomBytes(4).toString("hex")}`;
  const workerEnv: Record<string, string> = {
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    BRAND_SERVICE_URL: system.brandApp.server.url,
    BUDGET_SERVICE_URL: system.budgetApp.server.url,
    CAMPAIGN_SERVICE_URL: system.campaignApp.server.url,
    NATS_URL,
    EVENT_SUBJECT_PREFIX: system.prefix,
    BRAND_STREAM: system.brandStream,
    CAMPAIGN_STREAM: system.campaignStream,
    RECONCILE_INTERVAL_MS: "20000",
    CLOCK_OFFSET_MS: String(system.clockOffsetMs),
    METRICS: "off",
    ...system.auth.envOf("clocks"),
    ...system.tlsEnvOf("clocks"),
    ...options.workerEnv,
  };
  const config = readWorkerConfig(workerEnv);
  const logger = createLogger("clocks-test", process.env.TEST_LOG_LEVEL ?? "silent");
  const h: ClocksHarness = {
    system,
    temporal,
    worker: await startWorker(config, { logger }),
    taskQueue,
    workerEnv,
    async stopWorker() {
      await h.worker.stop();
    },
    async restartWorker() {
      h.worker = await startWorker(config, { logger });
    },
    async close() {
      await h.worker.stop().catch(() => undefined);
      await system.close();
      await temporal.stop();
    },
  };
  return h;
}
