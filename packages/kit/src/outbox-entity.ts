import { defineEntity, p } from "@mikro-orm/core";
import type { OutboxMessage } from "./outbox.js";
import { currentTraceparent } from "./tracing.js";

/**
 * The outbox table (OUTBOX_DDL + OUTBOX_TRACE_DDL) as a MikroORM entity, for services that write
 * their changes through the ORM; the others write it with `writeOutbox`. One definition,
 * so the ORM's view of the table cannot lag behind its migrations.
 */
export const OutboxEntity = defineEntity({
  name: "OutboxEntry",
  tableName: "outbox",
  properties: {
    id: p.bigint("string").primary().autoincrement(),
    eventId: p.uuid().unique("outbox_event_id_key"),
    aggregateId: p.text(),
    subject: p.text(),
    payload: p.blob(),
    createdAt: p.datetime(),
    publishedAt: p.datetime().nullable(),
    /** W3C traceparent of the change: the relay sends it as a NATS header. */
    traceParent: p.text().nullable(),
  },
  // What the relay scans: the pending rows, in id order.
  indexes: [{ name: "outbox_pending_idx", properties: ["id"], where: "published_at is null" }],
});

/**
 * The outbox row of `message`, to persist with `em.create(OutboxEntity, ...)` in the change's
 * transaction: like `writeOutbox`, it carries the trace of the change that writes it.
 */
export function outboxEntry(message: OutboxMessage, now: Date) {
  return {
    eventId: message.eventId,
    aggregateId: message.aggregateId,
    subject: message.subject,
    payload: Buffer.from(message.payload),
    createdAt: now,
    publishedAt: null,
    traceParent: currentTraceparent(),
  };
}
