import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { natsServers } from "@adbudget/kit";
import {
  CALLS,
  CONSUMERS,
  SERVICE_NAMES,
  SERVICES,
  STREAMS,
  SUBJECT_PREFIX,
  serviceUrlVariable,
  WORKER,
  type ServiceName,
  type Workload,
} from "@adbudget/topology";
import { NATS_URL } from "./nats.js";

/**
 * What a system is, shared by both launchers (launcher-in-process.ts, launcher-processes.ts): its
 * workloads from @adbudget/topology, and the settings of each derived from the topology's
 * declaration (the variables' names are the topology's, never written twice). A run's system has
 * its own subject prefix (the tag) and streams, so runs never see each other's events.
 */
export interface SystemPlan {
  /** First token of every subject (EVENT_SUBJECT_PREFIX); the streams are `<TAG>_BRAND`, ... */
  tag: string;
  /** Each service's stream. */
  streams: Record<ServiceName, string>;
  /** EVENT_SUBJECT_PREFIX and every stream's variable: settings of every process of the system. */
  env: Record<string, string>;
}

/** A fresh tag: `<kind><time><random>` ("t", "e2e", "chaos", "bench"). */
export function newTag(kind: string): string {
  return `${kind}${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
}

export function planSystem(tag: string): SystemPlan {
  const streams = Object.fromEntries(
    SERVICE_NAMES.map((s) => [s, `${tag.toUpperCase()}_${s.toUpperCase()}`]),
  ) as Record<ServiceName, string>;
  const env: Record<string, string> = { [SUBJECT_PREFIX.env]: tag };
  for (const s of SERVICE_NAMES) env[STREAMS[s].env] = streams[s];
  return { tag, streams, env };
}

/** A service's own settings: where it listens, its metrics port, its database. */
export function serviceSettings(
  service: ServiceName,
  s: { port: number | string; metricsPort?: number | string; databaseUrl: string },
): Record<string, string> {
  const p = SERVICES[service].envPrefix;
  return {
    [`${p}_PORT`]: String(s.port),
    ...(s.metricsPort === undefined ? {} : { [`${p}_METRICS_PORT`]: String(s.metricsPort) }),
    [`${p}_DATABASE_URL`]: s.databaseUrl,
  };
}

/** `<CALLEE>_SERVICE_URL` of every service `workload` calls (CALLS) that `urls` has. */
export function calleeSettings(workload: Workload, urls: Partial<Record<ServiceName, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const callee of Object.keys(CALLS[workload]) as ServiceName[]) {
    const url = urls[callee];
    if (url !== undefined) out[serviceUrlVariable(callee)] = url;
  }
  return out;
}

/** The durable consumers of `workload` (CONSUMERS), named after the tag: `<tag>-<default durable>`. */
export function durableSettings(workload: Workload, tag: string): Record<string, string> {
  return Object.fromEntries(
    Object.values(CONSUMERS[workload] as Record<string, { env: string; durable: string }>).map((c) => [
      c.env,
      `${tag}-${c.durable}`,
    ]),
  );
}

/**
 * The topology's own names for `workload` (the subject prefix, every stream, its durables), over a
 * run's tagged ones: for a system on a NATS whose users' permissions name them (the production
 * topology's cluster). Such a run is alone on that NATS.
 */
export function productionNames(workload: Workload): Record<string, string> {
  return {
    [SUBJECT_PREFIX.env]: SUBJECT_PREFIX.default,
    ...Object.fromEntries(SERVICE_NAMES.map((s) => [STREAMS[s].env, STREAMS[s].name])),
    ...Object.fromEntries(
      Object.values(CONSUMERS[workload] as Record<string, { env: string; durable: string }>).map((c) => [
        c.env,
        c.durable,
      ]),
    ),
  };
}

/** The metrics port variable of a workload. */
export function metricsPortVariable(workload: Workload): string {
  return `${workload === WORKER.name ? WORKER.envPrefix : SERVICES[workload].envPrefix}_METRICS_PORT`;
}

const resolve = createRequire(import.meta.url).resolve;

/** The built `main` of a workload: what a deployment runs (dist/main.js, the worker's dist/worker-main.js). */
export function workloadEntry(workload: Workload): string {
  if (workload === WORKER.name) return join(dirname(resolve("@adbudget/workflows")), "worker-main.js");
  return join(dirname(resolve(`@adbudget/${workload}-service`)), "main.js");
}

/** Deletes streams (their consumers go with them); a stream that is not there is no error. */
export async function deleteStreams(names: string[], natsUrl = NATS_URL): Promise<void> {
  const nc = await connect({ servers: natsServers(natsUrl) });
  try {
    const jsm = await jetstreamManager(nc);
    for (const s of names) await jsm.streams.delete(s).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
