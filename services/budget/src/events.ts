import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import { nextOutboxIds, uuidv7, writeOutbox, type Actor, type OutboxMessage } from "@adbudget/kit";
import {
  BudgetEventCause,
  BudgetEventType,
  BudgetPeriodEventSchema,
} from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { parseDate } from "@adbudget/time";
import type { Kind } from "./ledger-reads.js";

/** The LISTEN/NOTIFY channel of the budget outbox, and its relay's advisory lock key. */
export const OUTBOX_CHANNEL = "budget_outbox";
export const OUTBOX_LOCK_KEY = 0x62756467; // "budg"

/**
 * Writes the events of period changes to the outbox, in the caller's transaction, with the
 * outbox ids as per-brand sequence numbers, and records each as its period's `event_seq` and
 * exhausted flag (the state a period opens with is ordered against its events by that sequence).
 * Call it after the period rows are locked.
 */
export async function writePeriodEvents(
  client: pg.ClientBase,
  prefix: string,
  changes: PeriodChange[],
  nowMs: number,
): Promise<void> {
  if (changes.length === 0) return;
  const ids = await nextOutboxIds(client, changes.length);
  await client.query({
    name: "periods-flag",
    text: `update budget_periods p set exhausted = u.exhausted, event_seq = u.seq,
                  exhausted_at = case when u.exhausted then $6::timestamptz else p.exhausted_at end
           from unnest($1::uuid[], $2::int2[], $3::date[], $4::bool[], $5::bigint[]) as u(brand_id, kind, period_start, exhausted, seq)
           where p.brand_id = u.brand_id and p.kind = u.kind and p.period_start = u.period_start`,
    values: [
      changes.map((c) => c.brandId),
      changes.map((c) => c.kind),
      changes.map((c) => c.periodStart),
      changes.map((c) => c.type === "exhausted"),
      ids.map(String),
      new Date(nowMs),
    ],
  });
  await writeOutbox(
    client,
    OUTBOX_CHANNEL,
    changes.map((c, i) => outboxMessage(prefix, c, ids[i], nowMs)),
    nowMs,
    ids,
  );
}

/** Subjects: `<prefix>.budget.exhausted.<brandId>` and `<prefix>.budget.replenished.<brandId>`. */
export function budgetSubject(prefix: string, type: "exhausted" | "replenished", brandId: string): string {
  return `${prefix}.budget.${type}.${brandId}`;
}

export interface PeriodChange {
  brandId: string;
  kind: Kind;
  /** "YYYY-MM-DD" */
  periodStart: string;
  type: "exhausted" | "replenished";
  spent: bigint;
  limit: bigint | null;
  cause: "spend" | "limit" | "open";
  /**
   * The call that made it, named in the event so its consumers record who caused what they
   * change (a manager's SetBudget resumes the campaigns in that manager's name). None for spend:
   * a transaction takes the events of many calls, and the spend rows name their ad servers.
   */
  actor?: Actor;
}

const CAUSES = {
  spend: BudgetEventCause.SPEND,
  limit: BudgetEventCause.LIMIT_CHANGE,
  open: BudgetEventCause.PERIOD_OPENED,
} as const;

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
      period: { kind: change.kind, start },
      spentMicros: change.spent,
      limitMicros: change.limit ?? undefined,
      cause: CAUSES[change.cause],
      occurTime: timestampFromMs(nowMs),
      sequence,
      principal: change.actor?.principal ?? "",
      requestId: change.actor?.requestId ?? "",
    }),
  );
  return { eventId, aggregateId: change.brandId, subject: budgetSubject(prefix, change.type, change.brandId), payload };
}
