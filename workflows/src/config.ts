import { EnvReader, readAuthConfig, readClockOffset, type AuthConfig } from "@adbudget/kit";
import { readClientTlsSettings, type ClientTlsSettings } from "@adbudget/kit";
import { readNatsAuth, type NatsAuthOptions } from "@adbudget/kit";
import { TASK_QUEUE_DEFAULT } from "./shared.js";
import { readTemporalAuth, type TemporalAuthSettings } from "./temporal-connection.js";

/** With ClientTlsSettings: the CA and client certificate of calls to https service URLs. */
export interface WorkerConfig extends ClientTlsSettings {
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  brandServiceUrl: string;
  budgetServiceUrl: string;
  campaignServiceUrl: string;
  natsUrl: string;
  /** NATS_USER + NATS_PASSWORD, NATS_CREDS_FILE or NATS_NKEY_SEED_FILE: the worker's own NATS user (none: no auth). */
  natsAuth: NatsAuthOptions;
  subjectPrefix: string;
  brandStream: string;
  campaignStream: string;
  brandConsumer: string;
  campaignConsumer: string;
  logLevel: string;
  /** Period of the reconciliation workflow; 0 = do not start it. */
  reconcileIntervalMs: number;
  /** CLOCK_OFFSET_MS (tests and demos): passed to the workflows this worker starts. */
  clockOffsetMs: number;
  /** The worker's identity (`clocks`) on its calls to the services. */
  auth: AuthConfig;
  /** TLS and API key toward Temporal (temporal-connection.ts). */
  temporalAuth: TemporalAuthSettings;
  /** Worker slots and cache (worker.ts explains the defaults). */
  tuning: WorkerTuning;
  /** host:port of the worker's Prometheus /metrics (Temporal SDK metrics); undefined = METRICS=off. */
  metricsAddress: string | undefined;
}

/** CLOCKS_WORKFLOW_TASK_SLOTS, CLOCKS_LOCAL_ACTIVITY_SLOTS, CLOCKS_MAX_CACHED_WORKFLOWS. */
export interface WorkerTuning {
  workflowTaskSlots: number;
  localActivitySlots: number;
  maxCachedWorkflows: number;
}

/**
 * TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE (default), TEMPORAL_TASK_QUEUE
 * (adbudget), BRAND_SERVICE_URL, BUDGET_SERVICE_URL, CAMPAIGN_SERVICE_URL, NATS_URL, EVENT_SUBJECT_PREFIX,
 * BRAND_STREAM, CAMPAIGN_STREAM, CLOCKS_BRAND_CONSUMER (clocks-brand-events),
 * CLOCKS_CAMPAIGN_CONSUMER (clocks-campaign-events), RECONCILE_INTERVAL_MS (300000; 0 = off),
 * CLOCK_OFFSET_MS (0; tests and demos), CLOCKS_METRICS_PORT (9454; METRICS=off disables), HOST, LOG_LEVEL,
 * CLOCKS_WORKFLOW_TASK_SLOTS (200), CLOCKS_LOCAL_ACTIVITY_SLOTS (200), CLOCKS_MAX_CACHED_WORKFLOWS (10000),
 * TLS_CA_FILE, TLS_CLIENT_CERT_FILE and TLS_CLIENT_KEY_FILE (default TLS_CERT_FILE / TLS_KEY_FILE) for https URLs.
 */
export function readWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const r = new EnvReader(env);
  const config: WorkerConfig = {
    temporalAddress: r.string("TEMPORAL_ADDRESS", "127.0.0.1:7233"),
    namespace: r.string("TEMPORAL_NAMESPACE", "default"),
    taskQueue: r.string("TEMPORAL_TASK_QUEUE", TASK_QUEUE_DEFAULT),
    brandServiceUrl: r.url("BRAND_SERVICE_URL", "http://127.0.0.1:50051", ["http:", "https:"]),
    budgetServiceUrl: r.url("BUDGET_SERVICE_URL", "http://127.0.0.1:50052", ["http:", "https:"]),
    campaignServiceUrl: r.url("CAMPAIGN_SERVICE_URL", "http://127.0.0.1:50053", ["http:", "https:"]),
    natsUrl: r.url("NATS_URL", "nats://127.0.0.1:4222", ["nats:", "tls:"]),
    natsAuth: readNatsAuth(r, "clocks"),
    subjectPrefix: r.string("EVENT_SUBJECT_PREFIX", "adbudget"),
    brandStream: r.string("BRAND_STREAM", "ADBUDGET_BRAND"),
    campaignStream: r.string("CAMPAIGN_STREAM", "ADBUDGET_CAMPAIGN"),
    brandConsumer: r.string("CLOCKS_BRAND_CONSUMER", "clocks-brand-events"),
    campaignConsumer: r.string("CLOCKS_CAMPAIGN_CONSUMER", "clocks-campaign-events"),
    clockOffsetMs: readClockOffset(r),
    ...readClientTlsSettings(r),
    auth: readAuthConfig(r),
    temporalAuth: readTemporalAuth(r),
    metricsAddress: r.bool("METRICS", true) ? `${r.string("HOST", "0.0.0.0")}:${r.port("CLOCKS_METRICS_PORT", 9454)}` : undefined,
    tuning: {
      // A daypart turn is a short workflow task whose local activity waits on one campaign
      // service call (~ms): many in flight keep the burst of one instant moving while the worker
      // waits on the network. 200 is where the daypart bench stopped improving on 2 cores.
      workflowTaskSlots: r.int("CLOCKS_WORKFLOW_TASK_SLOTS", 200, { min: 2, max: 10_000 }),
      localActivitySlots: r.int("CLOCKS_LOCAL_ACTIVITY_SLOTS", 200, { min: 1, max: 10_000 }),
      // Every clock sleeps between turns; a cached one wakes without replaying its history. A
      // daypart workflow holds well under 100 KiB cached (reused V8 context), so 10,000 clocks
      // are ~1 GiB at most: size it to the clocks one worker owns.
      maxCachedWorkflows: r.int("CLOCKS_MAX_CACHED_WORKFLOWS", 10_000, { min: 0, max: 1_000_000 }),
    },
    reconcileIntervalMs: r.int("RECONCILE_INTERVAL_MS", 300_000, { min: 0, max: 86_400_000 }),
    logLevel: r.oneOf("LOG_LEVEL", "info", ["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
  };
  if (!/^[^:]+:\d+$/.test(config.temporalAddress)) r.problems.push(`TEMPORAL_ADDRESS=${config.temporalAddress}: expected host:port`);
  r.done();
  return config;
}
