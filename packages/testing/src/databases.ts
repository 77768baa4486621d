import { randomBytes } from "node:crypto";
import pg from "pg";
import { createLogger, pgConnection, pgUrlWithDatabase } from "@adbudget/kit";
import { INFRASTRUCTURE } from "@adbudget/topology";

/**
 * Databases of tests. Every test gets its own database, named `adbudget_t_<ms>_<random>`, dropped
 * when the test ends; databases of that shape older than an hour (a crashed earlier run) are
 * dropped by `dropStaleTestDatabases`, so a machine with leftovers stays clean.
 */

export const PG_URL = process.env[INFRASTRUCTURE.postgres.env] ?? INFRASTRUCTURE.postgres.default;

const silent = createLogger("test-databases", "silent");

/**
 * A client of `url` (one server, or a failover pair's servers: it connects to the one that takes
 * writes, as the services do). Not connected yet.
 */
export function pgClient(url: string): pg.Client {
  return new pg.Client(pgConnection(url, silent));
}

/** PG_URL as the environment says now (a run may point this process at another server). */
function serverUrl(): string {
  return process.env[INFRASTRUCTURE.postgres.env] ?? INFRASTRUCTURE.postgres.default;
}

function adminUrl(): string {
  return pgUrlWithDatabase(serverUrl(), "postgres");
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = pgClient(adminUrl());
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface TestDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `adbudget_t_${Date.now()}_${randomBytes(4).toString("hex")}`;
  await withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
  return {
    name,
    url: pgUrlWithDatabase(serverUrl(), name),
    drop: () => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

export async function dropStaleTestDatabases(maxAgeMs = 3_600_000): Promise<number> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ datname: string }>(
      "SELECT datname FROM pg_database WHERE datname LIKE 'adbudget\\_t\\_%'",
    );
    let dropped = 0;
    for (const { datname } of rows) {
      const ms = Number(datname.split("_")[2]);
      if (Number.isFinite(ms) && Date.now() - ms > maxAgeMs) {
        await c.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
        dropped++;
      }
    }
    return dropped;
  });
}
