import { randomBytes } from "node:crypto";
import * as net from "node:net";
import { ConnectError } from "@connectrpc/connect";
import pg from "pg";

/**
 * Test helpers. Every test gets its own database, named `adbudget_t_<ms>_<random>`, dropped
 * when the test ends; databases of that shape older than an hour (a crashed earlier run) are
 * dropped by `dropStaleTestDatabases`, so a machine with leftovers stays clean.
 */

export const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432";

function adminUrl(): string {
  const url = new URL(PG_URL);
  url.pathname = "/postgres";
  return url.toString();
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl() });
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
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
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

export { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";

/** A TCP port free right now on 127.0.0.1 (for a service that must be known before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Awaits a call expected to fail and returns its ConnectError (fails the test if it succeeds). */
export async function rejection(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail");
}

/**
 * The instant tests take as "now" before they shift the services' clock: the real clock, or
 * TEST_NOW (an ISO instant) when the calendar check (scripts/test-calendar.sh) replays a suite
 * as if it ran at a chosen wall-clock moment (a month end, a DST day).
 */
export function testBaseNow(): number {
  const at = process.env.TEST_NOW;
  if (at === undefined || at === "") return Date.now();
  const ms = Date.parse(at);
  if (!Number.isFinite(ms)) throw new Error(`TEST_NOW=${JSON.stringify(at)} is not an ISO instant`);
  return ms;
}

/** The zone of brands whose zone a test does not care about: TEST_ZONE, default UTC. */
export function testZone(): string {
  return process.env.TEST_ZONE || "UTC";
}

/**
 * A CLOCK_OFFSET_MS that moves "now" to the first instant at or after the test's base now
 * (testBaseNow) whose local time in `zone` is `hour`:00 (plus `afterMs`), so a test that must
 * not meet a local midnight (or must meet one at a chosen moment) behaves the same at any real
 * hour. Within 48 hours of the base; DST-safe because it searches real instants, minute by
 * minute, rather than adding hours.
 */
export function offsetToLocalTime(zone: string, hour: number, afterMs = 0): number {
  const base = testBaseNow();
  const fmt = new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", hour: "numeric", minute: "numeric" });
  const start = Math.ceil(base / 60_000) * 60_000;
  for (let t = start; t < base + 48 * 3_600_000; t += 60_000) {
    const parts = fmt.formatToParts(t);
    const h = Number(parts.find((p) => p.type === "hour")!.value);
    const m = Number(parts.find((p) => p.type === "minute")!.value);
    if (h === hour && m === 0) return t + afterMs - Date.now();
  }
  throw new Error(`no ${hour}:00 in ${zone} within 48 hours`);
}

/**
 * The clock of suites that must not meet a midnight: the next local noon of the test zone after
 * the base now. A whole suite takes minutes, so no local day or month ends inside it, at any
 * real hour; the calendar check moves that noon onto the 1st of a month and onto DST days.
 */
export function quietClockOffset(): number {
  return offsetToLocalTime(testZone(), 12);
}
