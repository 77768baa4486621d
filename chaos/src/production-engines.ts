import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";

/**
 * The engines of the production topology as the chaos run sees them: brought up (and brought
 * back after a fault) by `npm run infra -- --topology production`, the one launcher of them;
 * killed here by their pid files, each a process group (a pg_auto_failover keeper with its
 * PostgreSQL, a nats-server, the Temporal server), with SIGKILL: a machine lost.
 */

const ROOT = join(import.meta.dirname, "..", "..");
const DATA = process.env.ADBUDGET_DATA_DIR ?? join(ROOT, ".data");
const MONITOR_PORT = Number(process.env.PROD_PG_MONITOR_PORT ?? 5440);

/** The settings production.sh wrote for the services (PG_URL, NATS_URL, passwords, ...). */
export type EngineSettings = Record<string, string>;

/**
 * Brings the engines up, or back: whatever is not running is started (a lost PostgreSQL node
 * rejoins as the standby). The Temporal server keeps the shard count it runs with. Asynchronous:
 * the run's balancers, load and watchers live in this process and must go on meanwhile.
 */
export async function ensureEngines(): Promise<EngineSettings> {
  const shardsFile = join(DATA, "production", "temporal", "shards");
  const shards = existsSync(shardsFile) ? readFileSync(shardsFile, "utf8").trim() : undefined;
  await new Promise<void>((resolve, reject) => {
    const child = spawn("bash", [join(ROOT, "deploy/local/infra.sh"), "--topology", "production"], {
      stdio: ["ignore", "ignore", "inherit"],
      env: { ...process.env, ...(shards ? { TEMPORAL_SHARDS: shards } : {}) },
    });
    child.once("error", reject);
    child.once("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`infra.sh --topology production: exit ${code}`)),
    );
  });
  const settings = readSettings();
  for (const name of ["PG_URL", "NATS_URL", "TEMPORAL_ADDRESS", "TLS_DIR", "NATS_ADMIN_PASSWORD"])
    if (!settings[name]) throw new Error(`production.sh wrote no ${name} in its settings`);
  return settings;
}

/** production.sh's env file: KEY=value lines, values quoted by the shell's printf %q. */
function readSettings(): EngineSettings {
  const out: EngineSettings = {};
  for (const line of readFileSync(join(DATA, "production", "env"), "utf8").split("\n")) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2].replace(/\\(.)/g, "$1");
  }
  return out;
}

/**
 * SIGKILLs the daemon `name`, its pid file's process group (start_daemon's setsid makes the
 * daemon its leader: checked, so a reused pid is never signalled), and, for a PostgreSQL node,
 * its postmaster too (`pgdata`'s postmaster.pid, when it names that directory), wherever its
 * process group is. Resolves once every one of them is gone.
 */
export async function killDaemon(name: string, pgdata?: string): Promise<void> {
  const pid = Number(readFileSync(join(DATA, "run", `${name}.pid`), "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${name}: no pid in its pid file`);
  if (!alive(pid) || processGroupOf(pid) !== pid)
    throw new Error(`${name} (${pid}) is not running as its pid file says`);
  const victims = [pid];
  if (pgdata !== undefined) {
    const [postmaster, dir] = readFileSync(join(pgdata, "postmaster.pid"), "utf8").split("\n");
    if (dir === pgdata && alive(Number(postmaster))) victims.push(Number(postmaster));
  }
  process.kill(-pid, "SIGKILL");
  for (const v of victims.slice(1)) process.kill(v, "SIGKILL");
  for (const deadline = Date.now() + 10_000; victims.some(alive); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > deadline) throw new Error(`${name} still alive 10 s after SIGKILL`);
}

/** The process group of `pid` (field 5 of /proc/<pid>/stat, after the command's parentheses). */
function processGroupOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[2]);
}

/** A PostgreSQL node's data directory. */
export function pgDataOf(node: string): string {
  return join(DATA, "production", "pg", node);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pg_auto_failover nodes and their states, as the monitor holds them. */
export async function pgStates(): Promise<{ name: string; port: number; reported: string; assigned: string }[]> {
  const c = new pg.Client({
    connectionString: `postgres://postgres@127.0.0.1:${MONITOR_PORT}/pg_auto_failover`,
    connectionTimeoutMillis: 2000,
  });
  c.on("error", () => undefined);
  await c.connect();
  try {
    const { rows } = await c.query<{ name: string; port: number; reported: string; assigned: string }>(
      "select nodename as name, nodeport as port, reportedstate::text as reported, goalstate::text as assigned from pgautofailover.node order by nodeid",
    );
    return rows;
  } finally {
    await c.end();
  }
}

/**
 * The node the monitor assigns the primary's part now (a lost primary keeps its last reported
 * state, "primary", until it reports again: the assigned state is the monitor's decision).
 */
export async function primaryNode(): Promise<string | undefined> {
  return (await pgStates()).find((n) => ["primary", "wait_primary", "single"].includes(n.assigned))?.name;
}
