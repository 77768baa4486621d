import type { Socket } from "node:net";
import pg from "pg";
import { isTransient } from "./errors.js";
import type { Logger } from "./logger.js";
import { primaryStream } from "./pg-primary.js";
import { parsePgUrl } from "./pg-url.js";

/**
 * Type parsing of our own pools, independent of the global `pg.types` (which MikroORM changes
 * for its pool): timestamps become Dates, int8 stays text (we parse money with BigInt; a
 * float would lose micros).
 */
const TYPES = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    // pg declares the built-in parsers as returning any.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return
    oid === 1184 || oid === 1114
      ? (v: string) => new Date(v)
      : oid === 20
        ? (v: string) => v
        : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * A plain `pg` pool for set-based SQL, outbox relays and LISTEN, next to MikroORM's pool (used
 * for migrations and ORM work). Short connect timeout: a down database fails calls fast with
 * UNAVAILABLE instead of hanging them. A multi-host URL (a failover pair) connects to the server
 * that accepts writes (`pg-primary.ts`).
 */
export function createPgPool(url: string, max: number, logger: Logger): pg.Pool {
  const target = pgConnection(url, logger);
  // Keepalive: a server whose machine is lost sends nothing back; without probes, an idle
  // pooled connection (and the relay's LISTEN) would wait on the kernel's retransmissions.
  const pool = new pg.Pool({
    ...target,
    max,
    connectionTimeoutMillis: 3000,
    keepAlive: true,
    keepAliveInitialDelayMillis: 5000,
    types: TYPES,
  });
  pool.on("error", (err) => logger.warn({ err: err.message }, "idle database connection failed"));
  // A connection the server drops while it is checked out emits "error" on the client itself
  // (pg-pool listens only while it is idle): without a listener that is an uncaught exception
  // that ends the process. The query in flight rejects on its own; the pool discards the client.
  pool.on("connect", (client) =>
    client.on("error", (err) => logger.warn({ err: err.message }, "database connection failed")),
  );
  return pool;
}

/**
 * What `pg` needs to reach `url`: a one-host connection string and, for a multi-host or
 * read-write URL, the socket factory that finds the server accepting writes.
 */
export function pgConnection(url: string, logger: Logger): { connectionString: string; stream?: () => Socket } {
  const parsed = parsePgUrl(url);
  const first = parsed.hosts[0];
  if (first === undefined) throw new Error("a PostgreSQL URL without a server");
  const stream = primaryStream(parsed, logger);
  return stream ? { connectionString: parsed.forHost(first), stream } : { connectionString: parsed.forHost(first) };
}

/**
 * Runs `fn` in a transaction on one connection of `pool`: commit when it resolves, rollback when
 * it throws (the error is rethrown), the connection released either way.
 */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let failure: unknown;
  try {
    await client.query("begin");
    const result = await fn(client);
    await client.query("commit");
    return result;
  } catch (err) {
    failure = err;
    await client.query("rollback").catch(() => undefined);
    throw err;
  } finally {
    // A connection that failed transiently (lost, or on a server turned read-only) is closed,
    // not pooled again: the next transaction opens one where the writable server is now.
    client.release(isTransient(failure) && failure instanceof Error ? failure : undefined);
  }
}
