import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { uuidv7 } from "@adbudget/kit";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import {
  BudgetEventCause,
  BudgetEventType,
  BudgetPeriodEventSchema,
} from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { parseDate } from "@adbudget/time";

/** Subjects: `<prefix>.budget.exhausted.<brandId>` and `<prefix>.budget.replenished.<brandId>`. */
export interface Subjects {
  prefix: string;
}

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

/** An outbox row ready to insert: the protobuf payload and where it goes. */
export interface OutboxRow {
  eventId: string;
  brandId: string;
  subject: string;
  payload: Uint8Array;
}

/**
 * Builds the BudgetPeriodEvent of a change. `sequence` comes from the outbox id sequence,
 * drawn inside the transaction after the period row locks, so it increases per brand in
 * commit order.
 */
export function outboxRow(prefix: string, change: PeriodChange, sequence: bigint, nowMs: number): OutboxRow {
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
  return { eventId, brandId: change.brandId, subject: budgetSubject(prefix, change.type, change.brandId), payload };
}
