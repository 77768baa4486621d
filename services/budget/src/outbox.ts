import type pg from "pg";
import { outboxRow, type PeriodChange } from "./events.js";

/**
 * Writes the events of period changes to the outbox, inside the caller's transaction: the
 * change and its event commit together or not at all. The relay publishes them afterwards.
 */
export async function writeOutbox(client: pg.PoolClient, prefix: string, changes: PeriodChange[], nowMs: number): Promise<void> {
  if (changes.length === 0) return;
  const { rows } = await client.query<{ id: string }>({
    name: "outbox-ids",
    text: "select nextval('outbox_id_seq')::text as id from generate_series(1, $1::int)",
    values: [changes.length],
  });
  const built = changes.map((c, i) => ({ id: rows[i]!.id, row: outboxRow(prefix, c, BigInt(rows[i]!.id), nowMs) }));
  await client.query({
    name: "outbox-insert",
    text: `insert into outbox (id, event_id, brand_id, subject, payload, created_at)
           select * from unnest($1::bigint[], $2::uuid[], $3::uuid[], $4::text[], $5::bytea[], $6::timestamptz[])`,
    values: [
      built.map((b) => b.id),
      built.map((b) => b.row.eventId),
      built.map((b) => b.row.brandId),
      built.map((b) => b.row.subject),
      built.map((b) => Buffer.from(b.row.payload)),
      built.map(() => new Date(nowMs)),
    ],
  });
  await client.query("select pg_notify('budget_outbox', '')");
}
