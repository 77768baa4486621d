import { EnvReader, readAuthConfig, readClockOffset, type AuthConfig } from "@adbudget/kit";
import { readClientTlsSettings, type ClientTlsSettings } from "@adbudget/kit";
import { readNatsAuth, readNatsTls, type NatsAuthOptions } from "@adbudget/kit";
import { readWorkerTopology, WORKER, type WorkerTopology } from "@adbudget/topology";
import { TASK_QUEUE_DEFAULT } from "./shared.js";
import { readTemporalAuth, type TemporalAuthSettings } from "./temporal-connection.js";

/** With ClientTlsSettings: the CA and client certificate of calls to https service URLs. */
export interface WorkerConfig extends ClientTlsSettings {
  /** `clocks` (the topology's): its logs' and its NATS connection's name. */
  name: string;
  temporalAddress: string;
  namespace: string;
  taskQueue: string;
  /** The URLs of the services it calls (BRAND_SERVICE_URL, BUDGET_SERVICE_URL, CAMPAIGN_SERVICE_URL). */
  urls: WorkerTopology["urls"];
  natsUrl: string;
  /** NATS_USER + NATS_PASSWORD, NATS_CREDS_FILE or NATS_NKEY_SEED_FILE: the worker's own NATS user (none: no auth). */
  natsAuth: NatsAuthOptions;
  /** First token of every subject (EVENT_SUBJECT_PREFIX). */
  subjectPrefix: string;
  /** Its durable consumers (the topology's): brand events and campaign events. */
  consumers: WorkerTopology["consumers"];
  /** The identity (`clocks`) it calls the services with. */
  identity: WorkerTopology["identity"];
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
  /** Each unset: the SDK's default. */
  workflowTaskSlots: number | undefined;
  localActivitySlots: number | undefined;
  maxCachedWorkflows: number | undefined;
}

/** An integer setting whose absence means "the library's default". */
function optionalInt(r: EnvReader, name: string, min: number, max: number): number | undefined {
  return r.string(name, "") === "" ? undefined : r.int(name, min, { min, max });
}

/**
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE (default), TEMPORAL_TASK_QUEUE (adbudget),
 * BRAND_SERVICE_URL, BUDGET_SERVICE_URL, CAMPAIGN_SERVICE_URL, NATS_URL, EVENT_SUBJECT_PREFIX,
 * BRAND_STREAM, CAMPAIGN_STREAM, CLOCKS_BRAND_CONSUMER, CLOCKS_CAMPAIGN_CONSUMER (the topology's
 * defaults, @adbudget/topology), RECONCILE_INTERVAL_MS (300000; 0 = off),
 * CLOCK_OFFSET_MS (0; tests and demos), CLOCKS_METRICS_PORT (METRICS=off disables), HOST, LOG_LEVEL,
 * CLOCKS_WORKFLOW_TASK_SLOTS, CLOCKS_LOCAL_ACTIVITY_SLOTS, CLOCKS_MAX_CACHED_WORKFLOWS (the SDK's defaults),
 * TLS_CA_FILE, TLS_CLIENT_CERT_FILE and TLS_CLIENT_KEY_FILE (default TLS_CERT_FILE / TLS_KEY_FILE) for https URLs.
 */
export function readWorkerConfig(env: Record<string, string | undefined> = process.env): WorkerConfig {
  const r = new EnvReader(env);
  const topology = readWorkerTopology(r);
  const config: WorkerConfig = {
    name: WORKER.name,
    temporalAddress: topology.temporalAddress,
    namespace: r.string("TEMPORAL_NAMESPACE", "default"),
    taskQueue: r.string("TEMPORAL_TASK_QUEUE", TASK_QUEUE_DEFAULT),
    urls: topology.urls,
    natsUrl: topology.natsUrl,
    natsAuth: { ...readNatsAuth(r, WORKER.name), ...readNatsTls(r, topology.natsUrl) },
    subjectPrefix: topology.prefix,
    consumers: topology.consumers,
    identity: topology.identity,
    clockOffsetMs: readClockOffset(r),
    ...readClientTlsSettings(r),
    auth: readAuthConfig(r),
    temporalAuth: readTemporalAuth(r),
    metricsAddress: r.bool("METRICS", true)
      ? `${r.string("HOST", "0.0.0.0")}:${r.port(`${WORKER.envPrefix}_METRICS_PORT`, WORKER.metricsPort)}`
      : undefined,
    tuning: {
      // Unset: the SDK's defaults (40 workflow tasks, 100 local activities at once; a cache sized
      // from the heap limit, about 600 workflows per GiB). bench:daypart measured no difference
      // between 40 and 200 slots on the dev server, which bounds the burst on this machine; raise
      // them for a production Temporal whose burst outruns one worker's slots.
      workflowTaskSlots: optionalInt(r, "CLOCKS_WORKFLOW_TASK_SLOTS", 2, 10_000),
      localActivitySlots: optionalInt(r, "CLOCKS_LOCAL_ACTIVITY_SLOTS", 1, 10_000),
      maxCachedWorkflows: optionalInt(r, "CLOCKS_MAX_CACHED_WORKFLOWS", 0, 1_000_000),
    },
    reconcileIntervalMs: r.int("RECONCILE_INTERVAL_MS", 300_000, { min: 0, max: 86_400_000 }),
    logLevel: r.oneOf("LOG_LEVEL", "info", ["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
  };
  r.done();
  return config;
}
