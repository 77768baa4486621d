/**
 * A PostgreSQL failover pair of a test's own, run by pg_auto_failover (Debian's
 * postgresql-15-auto-failover): a monitor, a primary and a synchronous standby on 127.0.0.1. The
 * services reach it with the multi-host URL it hands out (`target_session_attrs=read-write`);
 * killing a node's process group is a machine lost (the node's keeper and its PostgreSQL die at
 * once, as a kernel panic would: the keeper cannot restart its server).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort } from "./ports.js";
import { giveToPostgres, pgAutoctl, pgBinDir, runAsPostgres } from "./pg-tools.js";

export interface PgNode {
  readonly name: string;
  readonly port: number;
  /** SIGKILLs the node's keeper and PostgreSQL together; resolves when the keeper is gone. */
  kill(): Promise<void>;
  /** Starts the node's keeper again (it rejoins as a standby, rewinding what it must). */
  restart(): void;
}

export interface PgFailoverPair {
  /** The multi-host URL of the pair's `postgres` database (both nodes, read-write wanted). */
  readonly url: string;
  readonly nodes: readonly PgNode[];
  /** The node the monitor says is primary now (and its standby's state). */
  states(): Promise<{ name: string; reported: string; assigned: string }[]>;
  /** Resolves when one node is primary and the other a secondary again (a pair that can fail over). */
  healthy(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The monitor's failure detection, shortened from its defaults (a 20 s unhealthy timeout, 30 s
 * for the old primary to demote: ~50 s measured here) to what one machine's loopback allows: a
 * node missed for 5 s is failed over, the old primary given 8 s to demote itself, longer than
 * the 5 s after which a primary cut off from the monitor and its standby stops taking writes
 * (`network_partition_timeout`): the two never both take writes.
 */
const MONITOR_SETTINGS: Record<string, string> = {
  health_check_period: "1000",
  health_check_timeout: "1000",
  health_check_max_retries: "1",
  health_check_retry_delay: "500",
  node_considered_unhealthy_timeout: "5000",
  primary_demote_timeout: "8000",
};
export const NETWORK_PARTITION_TIMEOUT_S = 5;

export async function startPgFailoverPair(): Promise<PgFailoverPair> {
  const dir = await mkdtemp(join(tmpdir(), "adbudget-pgaf-"));
  // pg_autoctl keeps its configuration, state and pid files under the XDG directories: this
  // pair's own, so nothing is left in the postgres user's home.
  const env = {
    ...process.env,
    PATH: `${pgBinDir()}:${process.env.PATH ?? ""}`,
    XDG_CONFIG_HOME: join(dir, "config"),
    XDG_DATA_HOME: join(dir, "data"),
    XDG_RUNTIME_DIR: join(dir, "run"),
  };
  for (const d of [dir, env.XDG_CONFIG_HOME, env.XDG_DATA_HOME, env.XDG_RUNTIME_DIR]) {
    await mkdir(d, { recursive: true });
    giveToPostgres(d);
  }
  const keepers: ChildProcess[] = [];
  const run = (pgdata: string): ChildProcess => {
    const child = spawn(...runAsPostgres([pgAutoctl(), "run", "--pgdata", pgdata]), {
      detached: true,
      stdio: "ignore",
      env,
    });
    keepers.push(child);
    return child;
  };
  const stop = async () => {
    await Promise.all(keepers.map((k) => killGroup(k, "SIGTERM", 10_000)));
    // A keeper stops its PostgreSQL with a smart shutdown, which waits for every client: one that
    // outlives its keeper is shut down fast, before its directory goes.
    await Promise.all(["monitor", "node1", "node2"].map((d) => fastShutdown(join(dir, d))));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const monitorPort = await freePort();
    await autoctl(["create", "monitor", "--pgdata", join(dir, "monitor"), "--pgport", String(monitorPort)]);
    run(join(dir, "monitor"));
    const monitorUrl = `postgres://postgres@127.0.0.1:${monitorPort}/pg_auto_failover`;
    await until(() => query(monitorUrl, "select 1").then(() => true), 30_000, "the monitor");
    for (const [name, value] of Object.entries(MONITOR_SETTINGS))
      await query(monitorUrl, `alter system set pgautofailover.${name} = '${value}'`);
    await query(monitorUrl, "select pg_reload_conf()");
    const nodes: PgNode[] = [];
    for (const name of ["node1", "node2"]) {
      const port = await freePort();
      const pgdata = join(dir, name);
      const monitor = `postgres://autoctl_node@127.0.0.1:${monitorPort}/pg_auto_failover?sslmode=disable`;
      await autoctl([
        "create",
        "postgres",
        "--pgdata",
        pgdata,
        "--pgport",
        String(port),
        "--name",
        name,
        "--monitor",
        monitor,
      ]);
      await autoctl([
        "config",
        "set",
        "--pgdata",
        pgdata,
        "timeout.network_partition_timeout",
        String(NETWORK_PARTITION_TIMEOUT_S),
      ]);
      let keeper = run(pgdata);
      nodes.push({
        name,
        port,
        kill: async () => {
          await Promise.all([killGroup(keeper, "SIGKILL", 0), killPostmaster(pgdata)]);
        },
        restart: () => void (keeper = run(pgdata)),
      });
      // The second node clones the first: the first must be primary before it is created.
      if (nodes.length === 1)
        await until(async () => (await states(monitorUrl)).some((s) => s.reported === "single"), 60_000, "node1");
    }
    const pair: PgFailoverPair = {
      url: `postgres://postgres@${nodes.map((n) => `127.0.0.1:${n.port}`).join(",")}/postgres?target_session_attrs=read-write`,
      nodes,
      states: () => states(monitorUrl),
      healthy: (timeoutMs = 60_000) =>
        until(
          async () => {
            const s = await states(monitorUrl);
            return (
              s.some((n) => n.reported === "primary" && n.assigned === "primary") &&
              s.some((n) => n.reported === "secondary" && n.assigned === "secondary")
            );
          },
          timeoutMs,
          "a primary and a secondary",
        ),
      stop,
    };
    await pair.healthy();
    return pair;
  } catch (err) {
    await stop();
    throw err;
  }

  function autoctl(args: string[]): Promise<void> {
    const base = ["--auth", "trust", "--no-ssl", "--hostname", "127.0.0.1", "--pgctl", join(pgBinDir(), "pg_ctl")];
    const all = args[0] === "create" ? [...args, ...base] : args;
    return new Promise((resolve, reject) => {
      let out = "";
      const child = spawn(...runAsPostgres([pgAutoctl(), ...all]), { stdio: ["ignore", "pipe", "pipe"], env });
      child.stdout?.on("data", (b: Buffer) => (out += b.toString()));
      child.stderr?.on("data", (b: Buffer) => (out += b.toString()));
      child.once("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`pg_autoctl ${all.join(" ")}: exit ${code}\n${out}`)),
      );
    });
  }
}

async function states(monitorUrl: string): Promise<{ name: string; reported: string; assigned: string }[]> {
  return query(
    monitorUrl,
    "select nodename as name, reportedstate::text as reported, goalstate::text as assigned from pgautofailover.node order by nodeid",
  );
}

async function query<T>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await check().catch(() => false);
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`pg_auto_failover: ${what} not ready within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Fast shutdown (SIGINT) of the PostgreSQL of `pgdata` if one runs; resolves when it is gone. */
async function fastShutdown(pgdata: string): Promise<void> {
  const pid = Number((await readFile(join(pgdata, "postmaster.pid"), "utf8").catch(() => "")).split("\n")[0]);
  if (!Number.isInteger(pid) || pid <= 0) return;
  const alive = () => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  if (!alive()) return;
  process.kill(pid, "SIGINT");
  for (const deadline = Date.now() + 10_000; alive() && Date.now() < deadline;)
    await new Promise((r) => setTimeout(r, 100));
  if (alive()) process.kill(pid, "SIGKILL");
}

/** Signals a keeper's whole process group (its PostgreSQL too); SIGKILL after `graceMs`. */
/**
 * SIGKILLs the PostgreSQL of `pgdata` and its backends, and waits until it is gone. The keeper's
 * group is not always enough: a server `pg_autoctl create` started (through pg_ctl, in a session
 * of its own) and the keeper adopted outlives its keeper, and a commit in flight on it was then
 * acknowledged by the standby after the "machine" died (a CI run under load saw it).
 */
async function killPostmaster(pgdata: string): Promise<void> {
  let pid: number;
  try {
    pid = Number((await readFile(join(pgdata, "postmaster.pid"), "utf8")).split("\n")[0]);
  } catch {
    return; // not running
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return;
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, "SIGKILL"); // its group (backends included) when it leads one, else itself
    } catch {
      // no such group, or already gone
    }
  }
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
    try {
      process.kill(pid, 0);
      // A zombie (dead, its parent not reaping yet) answers the probe too: dead is dead.
      if ((await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1]?.startsWith("Z")) return;
    } catch {
      return;
    }
  }
  throw new Error(`PostgreSQL ${pid} of ${pgdata} outlived its SIGKILL`);
}

async function killGroup(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const send = (s: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid ?? 0), s);
    } catch {
      // already gone
    }
  };
  send(signal);
  const timer = signal === "SIGKILL" ? undefined : setTimeout(() => send("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
