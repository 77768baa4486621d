import { randomBytes, randomUUID } from "node:crypto";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { OUTBOX_DDL, OUTBOX_TRACE_DDL } from "./outbox.js";
import { OutboxRelay } from "./outbox-relay.js";

const PG_URL = process.env.PG_URL ?? "postgres://postgres@127.0.0.1:5432";
const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
// Kit's own database for this file (the testing package depends on the kit, not the reverse).
const dbName = `adbudget_t_${Date.now()}_${randomBytes(4).toString("hex")}`;
const tag = `relay${randomBytes(3).toString("hex")}`;
const admin = (sql: string) => {
  const c = new pg.Client({ connectionString: `${PG_URL}/postgres` });
  return c
    .connect()
    .then(() => c.query(sql))
    .finally(() => c.end());
};
let pool: pg.Pool;
let nc: NatsConnection;

beforeAll(async () => {
  await admin(`create database "${dbName}"`);
  pool = new pg.Pool({ connectionString: `${PG_URL}/${dbName}`, max: 4 });
  // As the kit's own pools do (pg-pool.ts): an idle connection that fails is an event, not a
  // crash. Here, afterAll's DROP DATABASE ... WITH (FORCE) can reach a connection that pool.end()
  // is still closing; without a listener the pool re-throws that as an unhandled error.
  pool.on("error", () => undefined);
  for (const ddl of [...OUTBOX_DDL, OUTBOX_TRACE_DDL]) await pool.query(ddl);
  nc = await connect({ servers: NATS_URL });
});
afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(tag.toUpperCase()).catch(() => undefined);
  await nc.close();
  await pool.end();
  await admin(`drop database if exists "${dbName}" with (force)`);
});

it("a wake-up that arrives while a cycle runs is not lost (each row is published at once, not at the next poll)", async () => {
  const relay = new OutboxRelay(pool, nc, createLogger("relay-test", "warn"), {
    stream: { name: tag.toUpperCase(), subjects: [`${tag}.>`], replicas: 1 },
    channel: `${tag}_outbox`,
    lockKey: 0x7265,
    // Polling alone would take a minute: only wake-ups can publish in time.
    pollMs: 60_000,
  });
  let published = 0;
  const sub = nc.subscribe(`${tag}.>`, { callback: () => void published++ });
  relay.start();
  try {
    const ROWS = 60;
    for (let i = 0; i < ROWS; i++) {
      // What a service does after a commit with outbox rows: wake its relay (no NOTIFY here).
      await pool.query(
        "insert into outbox (event_id, aggregate_id, subject, payload, created_at) values ($1, 'a', $2, $3, now())",
        [randomUUID(), `${tag}.e`, Buffer.from([i])],
      );
      relay.wake();
      await new Promise((r) => setTimeout(r, Math.random() * 4));
    }
    const deadline = Date.now() + 3000;
    while (published < ROWS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(published).toBe(ROWS);
    // Marked after JetStream acknowledged them: the last cycle's commit may still be on its way.
    while ((await relay.pending()) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(await relay.pending()).toBe(0);
  } finally {
    sub.unsubscribe();
    await relay.stop();
  }
});
