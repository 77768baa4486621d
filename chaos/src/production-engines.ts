import { execFileSync } from "node:child_process";
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
 * rejoins as the standby). The Temporal server keeps the shard count it runs with.
 */
export function ensureEngines(): EngineSettings {
  const shardsFile = join(DATA, "production", "temporal", "shards");
  const shards = existsSync(shardsFile) ? readFileSync(shardsFile, "utf8").trim() : undefined;
  execFileSync("bash", [join(ROOT, "deploy/local/infra.sh"), "--topology", "production"], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, ...(shards ? { TEMPORAL_SHARDS: shards } : {}) },
  });
  return readSettings();
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

/** SIGKILLs the daemon `name` (its pid file's process group); resolves once it is gone. */
export async function killDaemon(name: string): Promise<void> {
  const pid = Number(readFileSync(join(DATA, "run", `${name}.pid`), "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`${name}: no pid in its pid file`);
  process.kill(-pid, "SIGKILL");
  for (const deadline = Date.now() + 10_000; alive(pid); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > deadline) throw new Error(`${name} (${pid}) still alive 10 s after SIGKILL`);
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
export async function primaryNode(): Promise<string> {
  const primary = (await pgStates()).find((n) => ["primary", "wait_primary", "single"].includes(n.assigned));
  if (primary === undefined) throw new Error("the monitor names no primary");
  return primary.name;
}
