import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import { createWriteStream } from "node:fs";
import { dirname, join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createTestAuth, createTestDatabase, type DevServer, freePort, NATS_URL, startDevServer, type TestAuth, type TestDatabase } from "@adbudget/testing";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@adbudget/proto/grpc/health/v1/health_pb.js";

/** The built entry point of a workspace package: `main` beside its dist/index.js. */
const entry = (pkg: string, file: string) => join(dirname(createRequire(import.meta.url).resolve(pkg)), file);

/** One child process of the system, with everything it printed (JSON lines on stdout). */
export interface Proc {
  name: string;
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  /** Parsed stdout lines (pino logs and, with TRACING=stdout, spans). */
  records(): Record<string, unknown>[];
}

export interface SystemProcesses {
  urls: { brand: string; budget: string; campaign: string };
  /** The system's keys (as `npm start` makes them): the callers' tokens. */
  auth: TestAuth;
  metrics: { brand: string; budget: string; campaign: string; clocks: string };
  temporalAddress: string;
  taskQueue: string;
  procs: Proc[];
  /** The last lines every process printed, for a failure message. */
  tail(lines?: number): string;
  /** Graceful stop (SIGTERM: spans and logs are flushed), then the databases and streams go. */
  stop(): Promise<void>;
}

function startProc(name: string, file: string, env: Record<string, string>, logDir?: string): Proc {
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  // As `npm start` does: the process's output also goes to <logDir>/<name>.log.
  const logFile = logDir === undefined ? undefined : createWriteStream(join(logDir, `${name}.log`));
  child.once("exit", () => logFile?.end());
  const proc: Proc = {
    name,
    child,
    stdout: [],
    stderr: [],
    records: () =>
      proc.stdout.flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      }),
  };
  const collect = (stream: NodeJS.ReadableStream, into: string[]) => {
    let rest = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk: string) => {
      logFile?.write(chunk);
      const lines = (rest + chunk).split("\n");
      rest = lines.pop()!;
      into.push(...lines.filter((l) => l !== ""));
    });
  };
  collect(child.stdout!, proc.stdout);
  collect(child.stderr!, proc.stderr);
  return proc;
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, procs: Proc[]): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const dead = procs.find((p) => p.child.exitCode !== null);
    if (dead) throw new Error(`${dead.name} exited (${dead.child.exitCode}) while waiting for ${what}:\n${dead.stderr.slice(-20).join("\n")}`);
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function stopProc(p: Proc): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    p.child.once("exit", () => resolve());
    p.child.kill("SIGTERM");
    setTimeout(() => p.child.kill("SIGKILL"), 10_000).unref();
  });
}

/**
 * The whole system as a deployment runs it: the three built services and the clocks worker as
 * separate Node processes (their real `main`s, configured by environment variables only), each
 * service with its own fresh database, on this test's own NATS subjects and streams, and a
 * Temporal dev server and task queue of its own. `env()` is given to every process (for example
 * CLOCK_OFFSET_MS, TRACING); it is called after the databases and Temporal are up (the slow
 * part), just before the processes start, so a time-based setting is fresh. With `logDir`, each
 * process also writes its output to `<logDir>/<name>.log`, as `npm start` does. Whatever fails
 * on the way is cleaned up before the error is thrown.
 */
export async function startSystem(env: () => Record<string, string>, options: { logDir?: string } = {}): Promise<SystemProcesses> {
  const tag = `e2e${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const streams = { BRAND_STREAM: `${tag.toUpperCase()}_BRAND`, BUDGET_STREAM: `${tag.toUpperCase()}_BUDGET`, CAMPAIGN_STREAM: `${tag.toUpperCase()}_CAMPAIGN` };
  const dbs: TestDatabase[] = [];
  let temporal: DevServer | undefined;
  const cleanup = async () => {
    await temporal?.stop();
    const nc = await connect({ servers: NATS_URL });
    const jsm = await jetstreamManager(nc);
    for (const s of Object.values(streams)) await jsm.streams.delete(s).catch(() => undefined);
    await nc.close();
    for (const db of dbs) await db.drop();
  };
  try {
    for (let i = 0; i < 3; i++) dbs.push(await createTestDatabase());
    temporal = await startDevServer();
  } catch (err) {
    await cleanup();
    throw err;
  }
  const ports = { brand: await freePort(), budget: await freePort(), campaign: await freePort() };
  const metricsPorts = { brand: await freePort(), budget: await freePort(), campaign: await freePort(), clocks: await freePort() };
  const urls = {
    brand: `http://127.0.0.1:${ports.brand}`,
    budget: `http://127.0.0.1:${ports.budget}`,
    campaign: `http://127.0.0.1:${ports.campaign}`,
  };
  const taskQueue = `${tag}-clocks`;
  const auth = await createTestAuth();

  const log = options.logDir;
  const common = { ...auth.env, ...env(), NATS_URL, EVENT_SUBJECT_PREFIX: tag, ...streams, HOST: "127.0.0.1", SHUTDOWN_GRACE_MS: "1000", LOG_LEVEL: "info" };
  const procs: Proc[] = [
    startProc("brand", entry("@adbudget/brand-service", "main.js"), {
      ...common, BRAND_PORT: String(ports.brand), BRAND_METRICS_PORT: String(metricsPorts.brand), BRAND_DATABASE_URL: dbs[0]!.url,
      BUDGET_SERVICE_URL: urls.budget,
    }, log),
    startProc("budget", entry("@adbudget/budget-service", "main.js"), {
      ...common, BUDGET_PORT: String(ports.budget), BUDGET_METRICS_PORT: String(metricsPorts.budget), BUDGET_DATABASE_URL: dbs[1]!.url,
      BRAND_SERVICE_URL: urls.brand, CAMPAIGN_SERVICE_URL: urls.campaign,
    }, log),
    startProc("campaign", entry("@adbudget/campaign-service", "main.js"), {
      ...common, CAMPAIGN_PORT: String(ports.campaign), CAMPAIGN_METRICS_PORT: String(metricsPorts.campaign), CAMPAIGN_DATABASE_URL: dbs[2]!.url,
      BRAND_SERVICE_URL: urls.brand,
    }, log),
    startProc("clocks", entry("@adbudget/workflows", "worker-main.js"), {
      ...common, TEMPORAL_ADDRESS: temporal!.address, TEMPORAL_TASK_QUEUE: taskQueue, CLOCKS_METRICS_PORT: String(metricsPorts.clocks),
      BRAND_SERVICE_URL: urls.brand, BUDGET_SERVICE_URL: urls.budget, CAMPAIGN_SERVICE_URL: urls.campaign,
      CLOCKS_BRAND_CONSUMER: `${tag}-clocks-brand`, CLOCKS_CAMPAIGN_CONSUMER: `${tag}-clocks-campaign`,
    }, log),
  ];
  const system: SystemProcesses = {
    urls,
    auth,
    metrics: {
      brand: `http://127.0.0.1:${metricsPorts.brand}/metrics`,
      budget: `http://127.0.0.1:${metricsPorts.budget}/metrics`,
      campaign: `http://127.0.0.1:${metricsPorts.campaign}/metrics`,
      clocks: `http://127.0.0.1:${metricsPorts.clocks}/metrics`,
    },
    temporalAddress: temporal!.address,
    taskQueue,
    procs,
    tail: (n = 15) => procs.map((p) => `--- ${p.name} (exit ${p.child.exitCode})\n${[...p.stdout, ...p.stderr].slice(-n).join("\n")}`).join("\n"),
    async stop() {
      await Promise.all(procs.map(stopProc));
      await cleanup();
    },
  };
  try {
    for (const [name, url] of Object.entries(urls)) {
      const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
      await waitFor(`${name} SERVING`, async () => {
        try {
          return (await health.check({ service: "" }, { timeoutMs: 1000 })).status === Status.SERVING;
        } catch {
          return false;
        }
      }, 60_000, procs);
    }
    const clocks = procs[3]!;
    await waitFor("the clocks worker", () => clocks.records().some((r) => r.msg === "clocks worker running"), 90_000, procs);
  } catch (err) {
    const tail = system.tail();
    await system.stop();
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
  return system;
}
