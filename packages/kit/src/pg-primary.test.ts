/**
 * The multi-host pool against the machine's PostgreSQL (the failover itself is
 * packages/testing/src/pg-failover.test.ts, on a pg_auto_failover pair).
 */
import { createServer, type AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type pg from "pg";
import { createLogger } from "./logger.js";
import { createPgPool } from "./pg-pool.js";

const server = new URL(process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432");
const live = `${server.hostname}:${server.port || 5432}`;
/** A port nothing listens on (port 1 is reserved, closed on any test machine). */
const dead = "127.0.0.1:1";
const logger = createLogger("pg-primary-test", "silent");
const pools: pg.Pool[] = [];
const pool = (url: string) => {
  const p = createPgPool(url, 2, logger);
  pools.push(p);
  return p;
};

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.end()));
});

describe("a pool on a multi-host URL", () => {
  it("connects to the server that answers, past one that does not", async () => {
    const p = pool(
      `postgres://${server.username || "postgres"}@${dead},${live}/postgres?target_session_attrs=read-write`,
    );
    const { rows } = await p.query<{ port: number }>("select inet_server_port() as port");
    expect(rows[0]?.port).toBe(Number(server.port || 5432));
  });

  it("finds a writable server for a database not created yet (a service's first start creates it)", async () => {
    const p = pool(
      `postgres://${server.username || "postgres"}@${dead},${live}/adbudget_never_created?target_session_attrs=read-write`,
    );
    // The server was located; the database itself is missing (3D000), not "no server accepts writes".
    await expect(p.query("select 1")).rejects.toMatchObject({ code: "3D000" });
  });

  it("does not wait for a server that accepts connections and never answers (a frozen machine)", async () => {
    const frozen = createServer(() => undefined); // accepts, then says nothing
    await new Promise<void>((resolve) => frozen.listen(0, "127.0.0.1", resolve));
    const { port } = frozen.address() as AddressInfo;
    try {
      const p = pool(
        `postgres://${server.username || "postgres"}@127.0.0.1:${port},${live}/postgres?target_session_attrs=read-write`,
      );
      const started = Date.now();
      await p.query("select 1");
      // The frozen server's probe times out after 1 s; the live one answered long before.
      expect(Date.now() - started).toBeLessThan(900);
    } finally {
      frozen.close();
    }
  });

  it("names a refusal no retry mends (no such role) instead of calling it unavailable", async () => {
    const p = pool(`postgres://adbudget_no_such_role@${dead},${live}/postgres?target_session_attrs=read-write`);
    await expect(p.query("select 1")).rejects.toMatchObject({ code: "28000" });
  });

  it("says which servers it asked when none answers (UNAVAILABLE)", async () => {
    const p = pool(`postgres://postgres@${dead},127.0.0.1:2/postgres?target_session_attrs=read-write`);
    await expect(p.query("select 1")).rejects.toMatchObject({ code: "ENOWRITABLESERVER" });
  });
});
