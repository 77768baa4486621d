import type pg from "pg";
import { currentTraceparent } from "./tracing.js";

/** One event to publish: where, with which id (also its Nats-Msg-Id), and its payload. */
export interface OutboxMessage {
  eventId: string;
  /** The aggregate the event is about (a record): events of one aggregate keep order. */
  aggregateId: string;
  subject: string;
  payload: Uint8Array;
}

/**
 * The outbox table every service has (same shape, in its own database). Migrations create it
 * with this statement.
 */
export const OUTBOX_DDL = [
  `create table if not exists outbox (
     id bigserial primary key,
     event_id uuid not null unique,
     aggregate_id text not null,
     subject text not null,
     payload bytea not null,
     created_at timestamptz not null,
     published_at timestamptz null
   )`,
  "create index if not exists outbox_pending_idx on outbox (id) where published_at is null",
];

/** Added later (its own migration in every service): the trace context of each event. */
export const OUTBOX_TRACE_DDL = "alter table outbox add column if not exists trace_parent text null";

/**
 * Draws `n` outbox ids inside the caller's transaction. Called after the row locks of the
 * change, the ids increase per aggregate in commit order: events can carry them as sequence.
 */
export async function nextOutboxIds(client: pg.ClientBase, n: number): Promise<bigint[]> {
  if (n === 0) return [];
  const { rows } = await client.query<{ id: string }>({
    name: "outbox-ids",
    text: "select nextval('outbox_id_seq')::text as id from generate_series(1, $1::int)",
    values: [n],
  });
  return rows.map((r) => BigInt(r.id));
}

/**
 * Writes messages to the outbox inside the caller's transaction, so "state changed" and "event
 * to publish" commit together or not at all, and wakes the relays (LISTEN `channel`): one round
 * trip (the NOTIFY rides on the insert). `ids` (from nextOutboxIds, when the payloads carry them
 * as sequence) are optional; without them the table's sequence assigns them.
 */
export async function writeOutbox(
  client: pg.ClientBase,
  channel: string,
  messages: OutboxMessage[],
  nowMs: number,
  ids?: bigint[],
): Promise<void> {
  if (messages.length === 0) return;
  await client.query({
    name: "outbox-insert",
    text: `with inserted as (
             insert into outbox (id, event_id, aggregate_id, subject, payload, created_at, trace_parent)
             select coalesce(u.id, nextval('outbox_id_seq')), u.event_id, u.aggregate_id, u.subject, u.payload, $6, $7::text
             from unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::bytea[]) with ordinality as u(id, event_id, aggregate_id, subject, payload, ord)
             order by u.ord
             returning 1
           )
           select pg_notify($8, '')`,
    values: [
      messages.map((_, i) => (ids === undefined ? null : String(ids[i]))),
      messages.map((m) => m.eventId),
      messages.map((m) => m.aggregateId),
      messages.map((m) => m.subject),
      messages.map((m) => Buffer.from(m.payload)),
      new Date(nowMs),
      // The trace of the change travels with its events (W3C traceparent, as a NATS header).
      currentTraceparent(),
      channel,
    ],
  });
}
