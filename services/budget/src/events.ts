import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import { nextOutboxIds, uuidv7, writeOutbox, type OutboxMessage } from "@adbudget/kit";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import {
  BudgetEventCause,
  BudgetEventType,
  BudgetPeriodEventSchema,
} from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { parseDate } from "@adbudget/time";

/** The LISTEN/NOTIFY channel of the budget outbox, and its relay's advisory lock key. */
export const OUTBOX_CHANNEL = "budget_outbox";
export const OUTBOX_LOCK_KEY = 0x62756467; // "budg"

/**
 * Writes the events of period changes to the outbox, in the caller's transaction, with the
 * outbox ids as per-brand sequence numbers.
 */
export async function writePeriodEvents(client: pg.ClientBase, prefix: string, changes: PeriodChange[], nowMs: number): Promise<void> {
  if (changes.length === 0) return;
  const ids = await nextOutboxIds(client, changes.length);
  await writeOutbox(client, OUTBOX_CHANNEL, changes.map((c, i) => outboxMessage(prefix, c, ids[i]!, nowMs)), nowMs, ids);
}

/** Subjects: `<prefix>.budget.exhausted.<brandId>` and `<prefix>.budget.replenished.<brandId>`. */
export function budgetSubject(prefix: string, type: "exhausted" | "replenished", brandId: string): string {
  return `${prefix}.budget.${type}.${brandId}`;
}

export interface PeriodChange {
  brandId: string;
  kind: 1 | 2;
  /** "YYYY-MM-DD" */
  periodStart: string;
  type: "exhausted" | "replenished";
  spent: bigint;
  limit: bigint | null;
  cause: "spend" | "limit";
}


/**
 * Builds the BudgetPeriodEvent of a change. `sequence` comes from the outbox id sequence,
 * drawn inside the transaction after the period row locks, so it increases per brand in
 * commit order.
 */
export function outboxMessage(prefix: string, change: PeriodChange, sequence: bigint, nowMs: number): OutboxMessage {
  const eventId = uuidv7(nowMs);
  const start = parseDate(change.periodStart);
  const payload = toBinary(
    BudgetPeriodEventSchema,
    create(BudgetPeriodEventSchema, {
      eventId,
      type: change.type === "exhausted" ? BudgetEventType.EXHAUSTED : BudgetEventType.REPLENISHED,
      brandId: change.brandId,
      period: { kind: change.kind === 1 ? PeriodKind.DAY : PeriodKind.MONTH, start },
      spentMicros: change.spent,
      limitMicros: change.limit ?? undefined,
      cause: change.cause === "spend" ? BudgetEventCause.SPEND : BudgetEventCause.LIMIT_CHANGE,
      occurTime: timestampFromMs(nowMs),
      sequence,
    }),
  );
  return { eventId, aggregateId: change.brandId, subject: budgetSubject(prefix, change.type, change.brandId), payload };
}
