import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createClient as createConnectClient } from "@connectrpc/connect";
import { Client, Connection } from "@temporalio/client";
import { NativeConnection, Runtime, Worker, type LogLevel, type LogMetadata } from "@temporalio/worker";
import { startWorkerApp, type Logger } from "@adbudget/kit";
import { ACCESS } from "@adbudget/topology";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { createActivities } from "./activities.js";
import { activityTracing, tracingClientInterceptor } from "./tracing.js";
import { ClockWorkflows } from "./client.js";
import type { WorkerConfig } from "./config.js";
import { brandEventHandler, campaignEventHandler } from "./event-handlers.js";
import { temporalConnectionOptions } from "./temporal-connection.js";

/**
 * The compiled workflow module the worker bundles: beside this file in dist/, or in dist/ when
 * this file runs from src/ (tests).
 */
const compiled = (file: string): string =>
  [new URL(`./${file}`, import.meta.url), new URL(`../dist/${file}`, import.meta.url)]
    .map((u) => fileURLToPath(u))
    .find((p) => existsSync(p)) ?? fileURLToPath(new URL(`./${file}`, import.meta.url));

export const WORKFLOWS_PATH = compiled("workflows.js");
/** The workflow interceptors (trace context from the cause to the activities). */
export const WORKFLOW_INTERCEPTORS_PATH = compiled("workflow-interceptors.js");

export interface RunningWorker {
  worker: Worker;
  clockWorkflows: ClockWorkflows;
  client: Client;
  logger: Logger;
  /** Resolves when the worker has stopped. */
  done: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The clocks process, on the kit's worker app (NATS, the clocks identity and transport of its
 * calls, its consumers, the stop order): a Temporal worker on the task queue (workflows from
 * WORKFLOWS_PATH, activities over typed Connect clients), and the handlers of the durable
 * consumers that start, wake and end workflows from brand and campaign events.
 * `syncFromEvents: false` starts no consumer.
 */
export async function startWorker(
  config: WorkerConfig,
  options: { logger?: Logger; syncFromEvents?: boolean } = {},
): Promise<RunningWorker> {
  const sync = options.syncFromEvents ?? true;
  const app = await startWorkerApp({
    config,
    logger: options.logger,
    access: ACCESS,
    // The worker calls the services as the clocks identity: only it may call the clock services.
    async build({ logger, stack, transport }) {
      // Stop order (the stack runs last pushed first; the kit starts the consumers after this
      // build, so they stop first): the consumers, so an event in hand finishes its call on the
      // Temporal client and is acked, and no event starts or wakes a workflow while the worker
      // drains; then the worker (shutdown, and its run ending: its activities still call the
      // services and the client); then its two connections. NATS, the kit's, closes last.
      const temporalOptions = temporalConnectionOptions(config.temporalAuth);
      const connection = await Connection.connect({ address: config.temporalAddress, ...temporalOptions });
      stack.push(() => connection.close());
      const client = new Client({
        connection,
        namespace: config.namespace,
        interceptors: { workflow: [tracingClientInterceptor] },
      });
      const clockWorkflows = new ClockWorkflows(client, config.taskQueue, config.clockOffsetMs);
      const campaigns = createConnectClient(CampaignService, transport(config.urls.campaign));
      const activities = createActivities({
        brands: createConnectClient(BrandService, transport(config.urls.brand)),
        campaigns,
        campaignClock: createConnectClient(CampaignClockService, transport(config.urls.campaign)),
        budgetClock: createConnectClient(BudgetClockService, transport(config.urls.budget)),
        clockWorkflows,
        now: () => Date.now() + config.clockOffsetMs,
      });
      installRuntime(logger, config.metricsAddress);
      const nativeConnection = await NativeConnection.connect({ address: config.temporalAddress, ...temporalOptions });
      stack.push(() => nativeConnection.close());
      const worker = await Worker.create({
        connection: nativeConnection,
        namespace: config.namespace,
        taskQueue: config.taskQueue,
        workflowsPath: WORKFLOWS_PATH,
        activities,
        ...tuning(config.tuning),
        interceptors: { workflowModules: [WORKFLOW_INTERCEPTORS_PATH], activity: [activityTracing] },
      });
      const done = worker.run();
      stack.push(async () => {
        worker.shutdown();
        await done;
      });
      if (config.reconcileIntervalMs > 0) await clockWorkflows.ensureReconcile(config.reconcileIntervalMs);
      return {
        // The events that start, wake and end workflows.
        handlers: {
          "brand-events": sync ? brandEventHandler(clockWorkflows, campaigns, logger) : undefined,
          "campaign-events": sync ? campaignEventHandler(clockWorkflows, logger) : undefined,
        },
        own: { worker, clockWorkflows, client, done },
      };
    },
  });
  const { logger } = app;
  logger.info({ taskQueue: config.taskQueue, temporal: config.temporalAddress }, "clocks worker running");
  if (config.clockOffsetMs !== 0) {
    logger.warn(
      { clockOffsetMs: config.clockOffsetMs },
      "CLOCK_OFFSET_MS is set: workflows started here run on a shifted clock (tests and demos only)",
    );
  }
  return { ...app.own, logger, stop: () => app.stop() };
}

/** The worker options of the CLOCKS_* settings that are set (the SDK's defaults otherwise). */
function tuning(t: WorkerConfig["tuning"]) {
  return {
    ...(t.workflowTaskSlots === undefined
      ? {}
      : {
          maxConcurrentWorkflowTaskExecutions: t.workflowTaskSlots,
          // Pollers: half the slots, the SDK's guidance, so the slots fill during a burst.
          maxConcurrentWorkflowTaskPolls: Math.max(2, Math.min(100, Math.floor(t.workflowTaskSlots / 2))),
        }),
    ...(t.localActivitySlots === undefined ? {} : { maxConcurrentLocalActivityExecutions: t.localActivitySlots }),
    ...(t.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: t.maxCachedWorkflows }),
  };
}

let runtimeInstalled = false;

/**
 * Routes the Temporal SDK's own logs (worker and core) into our pino logger, at warn and above
 * by default: the SDK is chatty at info, and one JSON log stream is what operators read. With
 * `metricsAddress`, the SDK core serves its worker metrics (task slots, poll and schedule-to-start
 * latencies, activity and workflow task outcomes, sticky cache) for Prometheus at /metrics.
 */
function installRuntime(logger: Logger, metricsAddress: string | undefined): void {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  const sdk = logger.child({ component: "temporal-sdk" });
  const levels: Record<LogLevel, "trace" | "debug" | "info" | "warn" | "error"> = {
    TRACE: "trace",
    DEBUG: "debug",
    INFO: "debug",
    WARN: "warn",
    ERROR: "error",
  };
  try {
    Runtime.install({
      logger: {
        log: (level: LogLevel, message: string, meta?: LogMetadata) => sdk[levels[level]](meta ?? {}, message),
        trace: (m: string, meta?: LogMetadata) => sdk.trace(meta ?? {}, m),
        debug: (m: string, meta?: LogMetadata) => sdk.debug(meta ?? {}, m),
        info: (m: string, meta?: LogMetadata) => sdk.debug(meta ?? {}, m),
        warn: (m: string, meta?: LogMetadata) => sdk.warn(meta ?? {}, m),
        error: (m: string, meta?: LogMetadata) => sdk.error(meta ?? {}, m),
      },
      telemetryOptions:
        metricsAddress === undefined
          ? undefined
          : {
              metrics: { prometheus: { bindAddress: metricsAddress }, globalTags: { service: "clocks" } },
            },
    });
    if (metricsAddress !== undefined) logger.info({ metrics: `http://${metricsAddress}/metrics` }, "worker metrics");
  } catch {
    // Installed already (another worker in this process): keep it.
  }
}
