import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SERVICE_NAMES, WORKER, type ServiceName, type Workload } from "@adbudget/topology";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import { createTestAuth, type TestAuth } from "./auth.js";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { LaunchedProcess, type LaunchedProcessOptions } from "./launcher-process.js";
import {
  calleeSettings,
  deleteStreams,
  durableSettings,
  metricsPortVariable,
  newTag,
  planSystem,
  serviceSettings,
  type SystemPlan,
  workloadEntry,
} from "./launcher-plan.js";
import { NATS_URL } from "./nats.js";
import { freePort } from "./ports.js";
import { startDevServer, type DevServer } from "./temporal-dev-server.js";

export { calleeSettings };

/** One replica of a service, as a process. */
export interface ServiceProcess {
  /** `brand` when the service has one replica, `brand-0`, `brand-1`, ... when it has more. */
  name: string;
  service: ServiceName;
  index: number;
  /** Its own address. */
  url: string;
  /** Its Prometheus /metrics (undefined with metrics off). */
  metricsUrl: string | undefined;
  process: LaunchedProcess;
}

/** How the processes run: what both `launchWorkloads` and `launchSystemProcesses` take. */
export interface ProcessOptions {
  /** With it, each process's output also goes to `<logDir>/<name>.log`. */
  logDir?: string;
  /** Append to the log files, a line before each start (restarts), instead of starting them empty. */
  appendLogs?: boolean;
  /** Keep every stdout line of each process (`records()`: logs, spans). */
  keepStdout?: boolean;
  /** Copy the processes' stderr to ours. */
  echoStderr?: boolean;
  /** Node flags of every process (`--cpu-prof`, ...). */
  execArgv?: string[];
  /** How long a process may take to stop after SIGTERM before SIGKILL (default 10 s). */
  stopGraceMs?: number;
  /** How long a service may take to answer health SERVING (default 60 s). */
  healthTimeoutMs?: number;
  /** Wait for the worker's "clocks worker running" log line (default true). */
  waitForWorker?: boolean;
  /** The client certificate (PEM) health checks present to https replicas that require one (mutual TLS). */
  clientTls?: { ca: string; cert: string; key: string };
  /** Called as each process is started the first time (`npm start` prints where it listens). */
  onStart?: (p: { name: string; workload: Workload; url?: string; logFile?: string }) => void;
}

/** The processes to start: each replica with its address and settings, and the worker's settings. */
export interface WorkloadSpecs {
  services: {
    service: ServiceName;
    index: number;
    name: string;
    url: string;
    metricsUrl?: string;
    env: Record<string, string>;
  }[];
  /** The clocks worker, started once every service serves. */
  worker?: { env: Record<string, string> };
}

/** Started processes: every replica and the worker, waited for, and how to stop them. */
export interface LaunchedWorkloads {
  replicas: ServiceProcess[];
  worker: LaunchedProcess | undefined;
  /** Every process: the replicas, then the worker. */
  processes: LaunchedProcess[];
  replicasOf(service: ServiceName): ServiceProcess[];
  /** Waits until the replica answers health SERVING; fails at once if it exits. */
  healthy(replica: ServiceProcess, timeoutMs?: number): Promise<void>;
  /** Resolves when the worker logged "clocks worker running". */
  workerRunning(timeoutMs?: number): Promise<void>;
  /** The last lines every process printed, for a failure message. */
  tail(lines?: number): string;
  /** Graceful stop of every process (SIGTERM, SIGKILL after the grace); the log files end. */
  stop(): Promise<void>;
}

async function until(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs: number,
  alive: () => LaunchedProcess | undefined,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = alive();
    if (dead)
      throw new Error(
        `${dead.name} exited (${dead.exit?.code ?? dead.exit?.signal}) while waiting for ${what}:\n${dead.lastLines()}`,
      );
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/**
 * Starts processes of the built workloads (their real mains, configured by environment
 * variables only, over this process's environment): replica 0 of every service, then, once each
 * serves, the other replicas (replica 0 migrates; two replicas migrating at once would race), then
 * the clocks worker. What fails on the way stops what was started before the error is thrown.
 * `launchSystemProcesses` makes the specs of a fresh system; `npm start` gives its own (the
 * topology's ports and databases).
 */
export async function launchWorkloads(specs: WorkloadSpecs, options: ProcessOptions = {}): Promise<LaunchedWorkloads> {
  const processOptions = (name: string, env: Record<string, string>): LaunchedProcessOptions => ({
    env,
    execArgv: options.execArgv,
    keepStdout: options.keepStdout,
    echoStderr: options.echoStderr,
    log:
      options.logDir === undefined
        ? undefined
        : { file: join(options.logDir, `${name}.log`), append: options.appendLogs },
  });
  const logFile = (name: string) => (options.logDir === undefined ? undefined : join(options.logDir, `${name}.log`));
  const replicas: ServiceProcess[] = specs.services.map((s) => ({
    name: s.name,
    service: s.service,
    index: s.index,
    url: s.url,
    metricsUrl: s.metricsUrl,
    process: new LaunchedProcess(s.name, process.execPath, {
      args: [workloadEntry(s.service)],
      ...processOptions(s.name, s.env),
    }),
  }));
  const worker =
    specs.worker === undefined
      ? undefined
      : new LaunchedProcess(WORKER.name, process.execPath, {
          args: [workloadEntry(WORKER.name)],
          ...processOptions(WORKER.name, specs.worker.env),
        });
  const processes = [...replicas.map((r) => r.process), ...(worker ? [worker] : [])];
  const started = () => processes.find((p) => p.starts > 0 && !p.running);
  const launched: LaunchedWorkloads = {
    replicas,
    worker,
    processes,
    replicasOf: (service) => replicas.filter((r) => r.service === service),
    async healthy(r, timeoutMs = options.healthTimeoutMs ?? 60_000) {
      const health = createClient(
        Health,
        createGrpcTransport({ baseUrl: r.url, ...(options.clientTls ? { nodeOptions: options.clientTls } : {}) }),
      );
      await until(
        `${r.name} SERVING`,
        () =>
          health.check({ service: "" }, { timeoutMs: 1000 }).then(
            (res) => res.status === Status.SERVING,
            () => false,
          ),
        timeoutMs,
        () => (r.process.running ? undefined : r.process),
      );
    },
    async workerRunning(timeoutMs = 90_000) {
      if (worker === undefined) return;
      await until(
        "the clocks worker",
        () => worker.records().some((l) => l.msg === "clocks worker running"),
        timeoutMs,
        started,
      );
    },
    tail: (n = 15) => processes.map((p) => p.lastLines(n)).join("\n"),
    async stop() {
      await Promise.all(processes.map((p) => p.stop(options.stopGraceMs ?? 10_000)));
      for (const p of processes) p.close();
    },
  };
  const start = (p: LaunchedProcess, workload: Workload, url?: string) => {
    options.onStart?.({ name: p.name, workload, url, logFile: logFile(p.name) });
    p.start();
  };
  try {
    const first = replicas.filter((r) => r.index === 0);
    const rest = replicas.filter((r) => r.index > 0);
    for (const r of first) start(r.process, r.service, r.url);
    for (const r of first) await launched.healthy(r);
    for (const r of rest) start(r.process, r.service, r.url);
    for (const r of rest) await launched.healthy(r);
    if (worker) {
      start(worker, WORKER.name);
      if (options.waitForWorker ?? true) await launched.workerRunning();
    }
  } catch (err) {
    const tail = launched.tail();
    await launched.stop();
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  }
  return launched;
}

/** A fresh system as processes: `launchSystemProcesses`'s options. */
export interface SystemProcessOptions extends ProcessOptions {
  /** The tag's first part ("e2e", "chaos", "bench"): subjects, streams, durables and task queue are named after the tag. */
  kind?: string;
  /** The services (default all three). */
  services?: readonly ServiceName[];
  /** Replicas of each service (default 1). */
  replicas?: Partial<Record<ServiceName, number>>;
  /** Start the clocks worker (default true), on a Temporal dev server of its own unless `temporalAddress`. */
  worker?: boolean;
  temporalAddress?: string;
  /** The NATS server of the system (default NATS_URL). */
  natsUrl?: string;
  /**
   * Settings of every process; called after the databases and Temporal are up (the slow part),
   * just before the processes start, so a time-based setting (CLOCK_OFFSET_MS) is fresh.
   */
  env?: () => Record<string, string>;
  /** Settings of one replica, over `env` (`urls`: every replica's own address). */
  replicaEnv?: (service: ServiceName, index: number, urls: Record<ServiceName, string[]>) => Record<string, string>;
  /** The worker's own settings, over `env`. */
  workerEnv?: Record<string, string>;
  /** The address a service's callers use, given its replicas' addresses (default replica 0's): a balancer over them. */
  route?: (service: ServiceName, replicaUrls: string[]) => Promise<string>;
  /** The database URL of a service's replicas, given its fresh database (default its URL): through a proxy. */
  databaseUrl?: (service: ServiceName, db: TestDatabase) => string;
  /** Prometheus /metrics on free ports (default true); false: METRICS=off. */
  metrics?: boolean;
}

/** A fresh system, started as processes. */
export interface SystemProcesses extends LaunchedWorkloads {
  plan: SystemPlan;
  /** The system's keys (as `npm start` makes them): the callers' tokens. */
  auth: TestAuth;
  /** Each service's fresh database. */
  databases: Partial<Record<ServiceName, TestDatabase>>;
  /** The address of each service for its callers (its route, or its replica 0). */
  urls: Record<ServiceName, string>;
  /** Each workload's /metrics (replica 0's for a service), with metrics on. */
  metrics: Partial<Record<Workload, string>>;
  /** A workload's /metrics; throws with metrics off. */
  metricsUrl(workload: Workload): string;
  /** The worker's Temporal frontend ("" without a worker). */
  temporalAddress: string;
  taskQueue: string;
  /** Graceful stop of every process, then the databases, streams and Temporal dev server go. */
  stop(): Promise<void>;
}

/**
 * A whole system as a deployment runs it: the built services (one or more replicas each) and the
 * clocks worker as separate Node processes, each service with its own fresh database, on the
 * run's own NATS subjects and streams (planSystem), its own keys (createTestAuth), and a Temporal
 * dev server and task queue of its own. Ports are free ones. Whatever fails on the way is cleaned
 * up before the error is thrown.
 */
export async function launchSystemProcesses(options: SystemProcessOptions = {}): Promise<SystemProcesses> {
  const plan = planSystem(newTag(options.kind ?? "p"));
  const services = options.services ?? SERVICE_NAMES;
  const natsUrl = options.natsUrl ?? NATS_URL;
  const withWorker = options.worker ?? true;
  const databases: Partial<Record<ServiceName, TestDatabase>> = {};
  let temporal: DevServer | undefined;
  const cleanup = async () => {
    await temporal?.stop();
    await deleteStreams(Object.values(plan.streams), natsUrl).catch(() => undefined);
    for (const db of Object.values(databases)) await db.drop().catch(() => undefined);
  };
  const urls: Record<ServiceName, string> = { brand: "", budget: "", campaign: "" };
  const replicaUrls: Record<ServiceName, string[]> = { brand: [], budget: [], campaign: [] };
  const ports = new Map<string, number>();
  const metricsPorts = new Map<string, number>();
  let clocksMetricsPort: number | undefined;
  const metrics = options.metrics ?? true;
  try {
    for (const s of services) databases[s] = await createTestDatabase();
    if (withWorker && options.temporalAddress === undefined) temporal = await startDevServer();
    for (const s of services) {
      for (let i = 0; i < (options.replicas?.[s] ?? 1); i++) {
        const port = await freePort();
        ports.set(`${s}/${i}`, port);
        replicaUrls[s].push(`http://127.0.0.1:${port}`);
        if (metrics) metricsPorts.set(`${s}/${i}`, await freePort());
      }
      urls[s] = options.route ? await options.route(s, replicaUrls[s]) : replicaUrls[s][0];
    }
    if (withWorker && metrics) clocksMetricsPort = await freePort();
  } catch (err) {
    await cleanup();
    throw err;
  }
  const temporalAddress = options.temporalAddress ?? temporal?.address ?? "";
  const taskQueue = `${plan.tag}-clocks`;
  const auth = await createTestAuth();
  const common = {
    LOG_LEVEL: "info",
    SHUTDOWN_GRACE_MS: "1000",
    ...auth.env,
    // The harness, benches and chaos load at machine speed, past any caller's quota.
    QUOTAS: "off",
    ...options.env?.(),
    NATS_URL: natsUrl,
    ...plan.env,
    HOST: "127.0.0.1",
    ...(metrics ? {} : { METRICS: "off" }),
  };
  const specs: WorkloadSpecs = { services: [] };
  for (const s of services) {
    const n = options.replicas?.[s] ?? 1;
    for (let i = 0; i < n; i++) {
      const metricsPort = metricsPorts.get(`${s}/${i}`);
      specs.services.push({
        service: s,
        index: i,
        name: n > 1 ? `${s}-${i}` : s,
        url: replicaUrls[s][i],
        metricsUrl: metricsPort === undefined ? undefined : `http://127.0.0.1:${metricsPort}/metrics`,
        env: {
          ...common,
          ...calleeSettings(s, urls),
          ...durableSettings(s, plan.tag),
          ...serviceSettings(s, {
            port: ports.get(`${s}/${i}`)!,
            metricsPort,
            databaseUrl: options.databaseUrl ? options.databaseUrl(s, databases[s]!) : databases[s]!.url,
          }),
          ...auth.envOf(s),
          // Replica 0 migrates; two replicas migrating at once would race.
          MIGRATE_ON_START: i === 0 ? "true" : "false",
          ...options.replicaEnv?.(s, i, replicaUrls),
        },
      });
    }
  }
  if (withWorker) {
    specs.worker = {
      env: {
        ...common,
        ...calleeSettings(WORKER.name, urls),
        ...durableSettings(WORKER.name, plan.tag),
        ...(clocksMetricsPort === undefined ? {} : { [metricsPortVariable(WORKER.name)]: String(clocksMetricsPort) }),
        TEMPORAL_ADDRESS: temporalAddress,
        TEMPORAL_TASK_QUEUE: taskQueue,
        ...auth.envOf(WORKER.name),
        ...options.workerEnv,
      },
    };
  }
  let launched: LaunchedWorkloads;
  try {
    launched = await launchWorkloads(specs, options);
  } catch (err) {
    await cleanup();
    throw err;
  }
  const metricsUrls: Partial<Record<Workload, string>> = {};
  for (const r of launched.replicas) if (r.index === 0 && r.metricsUrl) metricsUrls[r.service] = r.metricsUrl;
  if (clocksMetricsPort !== undefined) metricsUrls[WORKER.name] = `http://127.0.0.1:${clocksMetricsPort}/metrics`;
  return {
    ...launched,
    plan,
    auth,
    databases,
    urls,
    metrics: metricsUrls,
    metricsUrl(workload) {
      const url = metricsUrls[workload];
      if (url === undefined) throw new Error(`no /metrics of ${workload}: the system runs with metrics off`);
      return url;
    },
    temporalAddress,
    taskQueue,
    async stop() {
      await launched.stop();
      await cleanup();
    },
  };
}
