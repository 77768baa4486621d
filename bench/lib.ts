/**
 * Shared bench helpers: the system under load (started by the process launcher of
 * @adbudget/testing), the bare server, latency stats, a table printer, ghz, CPU accounting.
 * BENCH_SERVICE_LOG_LEVEL: the services' log level (info); BENCH_SERVICE_LOG_DIR: a directory for
 * their logs (<name>.log each); BENCH_PROFILE_DIR: each service writes a V8 CPU profile there
 * when it stops (node --cpu-prof).
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { readdirSync, readFileSync } from "node:fs";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health } from "@adbudget/proto/grpc/health/v1/health_pb.js";

export const ROOT = join(import.meta.dirname, "..");

import {
  freePort,
  LaunchedProcess,
  launchSystemProcesses,
  toolBinary,
  type SystemProcessOptions,
  type SystemProcesses,
} from "@adbudget/testing";

/**
 * The services under load as processes on fresh databases and the bench's own streams, through
 * the launcher every harness uses, with the benches' settings: no clocks worker (a bench that
 * needs one runs it itself), metrics off, the services' stderr shown, BENCH_* as above.
 */
export function startBenchSystem(options: SystemProcessOptions = {}): Promise<SystemProcesses> {
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const { env, ...rest } = options;
  return launchSystemProcesses({
    kind: "bench",
    worker: false,
    metrics: false,
    echoStderr: true,
    execArgv: profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
    logDir: process.env.BENCH_SERVICE_LOG_DIR,
    ...rest,
    env: () => ({ LOG_LEVEL: process.env.BENCH_SERVICE_LOG_LEVEL ?? "info", ...env?.() }),
  });
}

/** A service replica's process id (CPU accounting). */
export function pidOf(system: SystemProcesses, service: "brand" | "budget" | "campaign", index = 0): number {
  const pid = system.replicasOf(service)[index]?.process.pid;
  if (pid === undefined) throw new Error(`${service} ${index} is not running`);
  return pid;
}

/** The bare server (bench/bare-server.ts) on a free port, once it answers health Check. */
export async function startBareServer(): Promise<{ port: number; process: LaunchedProcess }> {
  const port = await freePort();
  const profileDir = process.env.BENCH_PROFILE_DIR;
  const p = new LaunchedProcess("bare server", process.execPath, {
    execArgv: profileDir ? ["--cpu-prof", `--cpu-prof-dir=${profileDir}`] : [],
    args: [join(ROOT, "bench/bare-server.ts"), String(port)],
    echoStderr: true,
  });
  p.start();
  const health = createClient(Health, createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` }));
  const deadline = Date.now() + 30_000;
  while (
    !(await health.check({}, { timeoutMs: 1000 }).then(
      () => true,
      () => false,
    ))
  ) {
    if (!p.running || Date.now() > deadline) {
      await p.stop();
      throw new Error(`the bare server did not start:\n${p.lastLines()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { port, process: p };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export interface Row {
  name: string;
  events: number;
  seconds: number;
  latenciesMs: number[];
}

export function printTable(rows: Row[]): void {
  const header = "| scenario | events | events/s | p50 ms | p99 ms |";
  console.log(`\n${header}\n| --- | ---: | ---: | ---: | ---: |`);
  for (const r of rows) {
    const lat = [...r.latenciesMs].sort((a, b) => a - b);
    const p50 = lat.length ? percentile(lat, 50).toFixed(2) : "-";
    const p99 = lat.length ? percentile(lat, 99).toFixed(2) : "-";
    console.log(`| ${r.name} | ${r.events} | ${Math.round(r.events / r.seconds)} | ${p50} | ${p99} |`);
  }
}

export function progress(label: string, done: number, total: number): void {
  if (done % Math.max(1, Math.floor(total / 10)) === 0) console.error(`  ${label}: ${done}/${total}`);
}

/** ghz (a Go gRPC load tool): pinned, built with go install on first use. */
export const GHZ_VERSION = "v0.121.0";

export function ghzBinary(): string {
  try {
    return toolBinary("ghz");
  } catch {
    console.error(`building ghz ${GHZ_VERSION} (go install, one time)`);
    execFileSync("go", ["install", `github.com/bojand/ghz/cmd/ghz@${GHZ_VERSION}`], {
      stdio: "inherit",
      env: { ...process.env, GOTOOLCHAIN: "local" },
    });
    return toolBinary("ghz");
  }
}

export interface GhzResult {
  count: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Calls by status ("OK", "Unavailable", ...). */
  statuses: Record<string, number>;
}

/**
 * One ghz run against `target` (plaintext, schema by server reflection): `total` calls of `call`
 * by `concurrency` workers. `data` may use ghz's templates ({{.RequestNumber}}, {{.WorkerID}}).
 */
export function ghz(options: {
  target: string;
  call: string;
  data: unknown;
  metadata?: Record<string, string>;
  total: number;
  concurrency: number;
  connections?: number;
}): GhzResult {
  const args = [
    "--insecure",
    "--call",
    options.call,
    "-d",
    JSON.stringify(options.data),
    "-n",
    String(options.total),
    "-c",
    String(options.concurrency),
    "--connections",
    String(options.connections ?? 1),
    "--format",
    "json",
  ];
  if (options.metadata)
    args.push("--metadata", JSON.stringify(options.metadata), "--reflect-metadata", JSON.stringify(options.metadata));
  const out = execFileSync(ghzBinary(), [...args, options.target], { maxBuffer: 256 * 1024 * 1024 }).toString();
  const r = JSON.parse(out) as {
    count: number;
    total: number;
    rps: number;
    latencyDistribution: { percentage: number; latency: number }[] | null;
    statusCodeDistribution: Record<string, number>;
  };
  const at = (p: number) => (r.latencyDistribution?.find((d) => d.percentage === p)?.latency ?? NaN) / 1e6;
  return {
    count: r.count,
    seconds: r.total / 1e9,
    rps: r.rps,
    p50Ms: at(50),
    p99Ms: at(99),
    statuses: r.statusCodeDistribution ?? {},
  };
}

/** Clock ticks per second of /proc's CPU times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU seconds (user + system) used so far by each process, and by the whole machine. */
export interface CpuSnapshot {
  machineBusy: number;
  machineTotal: number;
  byPid: Map<number, number>;
  /** Every PostgreSQL backend and helper, summed (the shared server: the bench is its only load). */
  postgres: number;
}

function pidCpu(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/** Reads /proc: the processes named and every postgres process. */
export function cpuSnapshot(pids: number[]): CpuSnapshot {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0].split(/\s+/).slice(1).map(Number);
  const idle = cpu[3] + cpu[4];
  const total = cpu.reduce((a, b) => a + b, 0);
  let postgres = 0;
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() === "postgres") postgres += pidCpu(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return {
    machineBusy: (total - idle) / TICKS_PER_SECOND,
    machineTotal: total / TICKS_PER_SECOND,
    byPid: new Map(pids.map((p) => [p, pidCpu(p)])),
    postgres,
  };
}

/** CPU seconds used between two snapshots: each named process, PostgreSQL, the rest (the client), and the machine's idle share. */
export function cpuBetween(a: CpuSnapshot, b: CpuSnapshot, names: Map<number, string>): Record<string, number> {
  const out: Record<string, number> = {};
  let named = 0;
  for (const [pid, name] of names) {
    const used = (b.byPid.get(pid) ?? 0) - (a.byPid.get(pid) ?? 0);
    named += used;
    out[name] = used;
  }
  out.postgres = b.postgres - a.postgres;
  out.client = b.machineBusy - a.machineBusy - named - out.postgres;
  out.idle = b.machineTotal - a.machineTotal - (b.machineBusy - a.machineBusy);
  return out;
}

export function addCpu(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}
