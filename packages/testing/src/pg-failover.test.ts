/**
 * The services' pool on a PostgreSQL failover pair (pg_auto_failover): the primary's machine is
 * lost under writes; every write acknowledged before is on the promoted standby (commits waited
 * for it), every write in flight fails UNAVAILABLE (never INTERNAL) and succeeds when retried
 * with its id, and the same pool writes to the new primary without a restart.
 */
import { Code } from "@connectrpc/connect";
import { createLogger, createPgPool, inTransaction, toConnectError } from "@adbudget/kit";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startPgFailoverPair, type PgFailoverPair } from "./pg-failover.js";

let pair: PgFailoverPair;
let pool: pg.Pool;

beforeAll(async () => {
  pair = await startPgFailoverPair();
  pool = createPgPool(pair.url, 6, createLogger("pg-failover-test", "silent"));
  await pool.query("create table spend (id text primary key, attempt int not null)");
}, 120_000);

afterAll(async () => {
  await pool?.end();
  await pair?.stop();
});

/**
 * Writes `id` as a spend event is written: a transaction of the kit (which keeps its connection
 * in the pool after a success, and closes it after a transient failure), idempotent by its id.
 */
function write(id: string, attempt: number): Promise<number> {
  return inTransaction(pool, async (client) => {
    await client.query("insert into spend (id, attempt) values ($1, $2) on conflict (id) do nothing", [id, attempt]);
    const { rows } = await client.query<{ port: number }>("select inet_server_port() as port");
    return rows[0]?.port ?? 0;
  });
}

/** Resolves once `check` holds (polled every 50 ms), failing after `timeoutMs`. */
async function until(check: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; !check(); await new Promise((r) => setTimeout(r, 50)))
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
}

describe("a PostgreSQL failover under writes", () => {
  it("loses no acknowledged write, fails the ones in flight UNAVAILABLE, and goes on", async () => {
    const first = await write("before", 0);
    const primary = pair.nodes.find((n) => n.port === first);
    expect(primary, `writes go to a node of the pair (port ${first})`).toBeDefined();

    // A transaction open on the primary when its machine dies: its commit cannot be acknowledged.
    const inFlight = await pool.connect();
    await inFlight.query("begin");
    await inFlight.query("insert into spend (id, attempt) values ('in-flight', 0)");

    const acked = new Set<string>(["before"]);
    const codes = new Map<string, number>();
    const failed = new Set<string>();
    let stop = false;
    let n = 0;
    const writer = async () => {
      while (!stop) {
        const id = `w${n++}`;
        try {
          await write(id, 1);
          acked.add(id);
        } catch (err) {
          const code = Code[toConnectError(err, "test").error.code];
          codes.set(code, (codes.get(code) ?? 0) + 1);
          failed.add(id);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    };
    const writers = [writer(), writer(), writer()];
    await until(() => acked.size >= 20, "writes acknowledged before the kill");
    const ackedBeforeKill = acked.size;
    const killedAt = Date.now();
    await primary?.kill();

    const commit = await inFlight.query("commit").then(
      () => "committed",
      (err: unknown) => Code[toConnectError(err, "test").error.code],
    );
    inFlight.release(true);
    expect(commit, "the transaction in flight on the lost primary").toBe("Unavailable");

    // The pool finds the promoted standby by itself.
    let port = 0;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      port = await write(`probe-${Date.now()}`, 2).catch(() => 0);
      if (port !== 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const recoveredMs = Date.now() - killedAt;
    // The writers' own pooled connections recover too (not only the probe's).
    const ackedAtRecovery = acked.size;
    await until(() => acked.size >= ackedAtRecovery + 20, "the writers' writes after the failover");
    stop = true;
    await Promise.all(writers);

    expect(port, "writes reach the other node").not.toBe(0);
    expect(port).not.toBe(primary?.port);
    const states = await pair.states();
    expect(states.find((s) => s.name === primary?.name)?.assigned, "the lost node is demoted").not.toBe("primary");
    expect(ackedBeforeKill, "writes were acknowledged before the kill").toBeGreaterThan(0);
    expect(failed.size, "writes failed during the failover (the fault took effect)").toBeGreaterThan(0);
    expect([...codes.keys()], "every failure is UNAVAILABLE").toEqual(["Unavailable"]);

    // The callers retry their failed writes with the same ids: each stored once.
    for (const id of failed) await write(id, 3);
    const { rows } = await pool.query<{ id: string }>("select id from spend");
    const stored = new Set(rows.map((r) => r.id));
    const lost = [...acked].filter((id) => !stored.has(id));
    expect(lost, "acknowledged writes lost").toEqual([]);
    expect([...failed].filter((id) => !stored.has(id))).toEqual([]);

    // The lost node comes back as the standby; a new pool skips it though the URL names it
    // first or second as it may: it answers read-only.
    primary?.restart();
    await pair.healthy();
    const fresh = createPgPool(pair.url, 2, createLogger("pg-failover-test", "silent"));
    try {
      const { rows: where } = await fresh.query<{ port: number }>("select inet_server_port() as port");
      expect(where[0]?.port, "a new connection after the old primary rejoined").toBe(port);
    } finally {
      await fresh.end();
    }
    console.log(
      `failover: ${acked.size} writes acknowledged (${ackedBeforeKill} before the kill), ${failed.size} failed UNAVAILABLE and retried, ` +
        `lost 0; writes resumed on the standby ${recoveredMs} ms after the kill`,
    );
  }, 120_000);
});
