import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import { uuidv7, writeOutbox, type OutboxMessage } from "@adbudget/kit";
import { BudgetEventCause, BudgetThresholdEventSchema } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { parseDate } from "@adbudget/time";
import { OUTBOX_CHANNEL } from "./events.js";
import type { Kind } from "./ledger-reads.js";

/**
 * Alert thresholds (Budget.alert_percents): "80% of today's budget spent". Each is published once
 * per period and threshold: the row in `budget_alerts` is the proof it was, written in the same
 * transaction as the spend (or the SetBudget) that reached it, with its event in the outbox.
 */

/** A threshold reached in a period. */
export interface ThresholdReached {
  brandId: string;
  kind: Kind;
  /** "YYYY-MM-DD" */
  periodStart: string;
  percent: number;
  threshold: bigint;
  spent: bigint;
  limit: bigint;
  cause: "spend" | "limit";
}

/** The threshold in micros: ceil(limit * percent / 100), exact. */
export function thresholdOf(limit: bigint, percent: number): bigint {
  return (limit * BigInt(percent) + 99n) / 100n;
}

/**
 * The percentages whose threshold spend crossed going from `before` to `after` (before < t <=
 * after). None without a positive limit: a limit of 0 is exhausted from its first instant, and
 * its exhaustion event says so.
 */
export function crossedThresholds(
  before: bigint,
  after: bigint,
  limit: bigint | null,
  percents: readonly number[],
): number[] {
  if (limit === null || limit <= 0n || after <= before) return [];
  return percents.filter((p) => {
    const t = thresholdOf(limit, p);
    return before < t && t <= after;
  });
}

/** The percentages whose threshold `spent` has reached (a lowered limit, new thresholds). */
export function reachedThresholds(spent: bigint, limit: bigint | null, percents: readonly number[]): number[] {
  if (limit === null || limit <= 0n) return [];
  return percents.filter((p) => thresholdOf(limit, p) <= spent);
}

/** Parses `smallint[]` as PostgreSQL prints it ("{50,80}"). */
export function parsePercents(text: string | null): number[] {
  if (text === null || text === "{}") return [];
  return text.slice(1, -1).split(",").map(Number);
}

const keyOf = (t: { brandId: string; kind: number; periodStart: string; percent: number }) =>
  `${t.brandId}|${t.kind}|${t.periodStart}|${t.percent}`;

/**
 * Records the thresholds reached (in the caller's transaction) and writes an outbox event for
 * each one not recorded before; returns how many were new. Rows are inserted in key order, so
 * concurrent transactions reaching the same thresholds wait on each other instead of deadlocking.
 */
export async function writeThresholdEvents(
  client: pg.ClientBase,
  prefix: string,
  reached: ThresholdReached[],
  nowMs: number,
): Promise<number> {
  if (reached.length === 0) return 0;
  const sorted = [...reached].sort((a, b) => (keyOf(a) < keyOf(b) ? -1 : keyOf(a) > keyOf(b) ? 1 : 0));
  const { rows } = await client.query<{ brand_id: string; kind: number; period_start: string; percent: number }>(
    `insert into budget_alerts (brand_id, kind, period_start, percent, spent_micros, reached_at)
     select u.brand_id, u.kind, u.period_start, u.percent, u.spent, $6 from unnest($1::uuid[], $2::int2[], $3::date[], $4::int2[], $5::bigint[])
       with ordinality as u(brand_id, kind, period_start, percent, spent, ord)
     order by u.ord
     on conflict do nothing
     returning brand_id::text, kind, period_start::text, percent`,
    [
      sorted.map((r) => r.brandId),
      sorted.map((r) => r.kind),
      sorted.map((r) => r.periodStart),
      sorted.map((r) => r.percent),
      sorted.map((r) => r.spent.toString()),
      new Date(nowMs),
    ],
  );
  const fresh = new Set(
    rows.map((r) => keyOf({ brandId: r.brand_id, kind: r.kind, periodStart: r.period_start, percent: r.percent })),
  );
  const messages = sorted.filter((r) => fresh.has(keyOf(r))).map((r) => thresholdMessage(prefix, r, nowMs));
  await writeOutbox(client, OUTBOX_CHANNEL, messages, nowMs);
  return messages.length;
}

/** Subject of threshold events: `<prefix>.budget.threshold.<brandId>`. */
export function thresholdSubject(prefix: string, brandId: string): string {
  return `${prefix}.budget.threshold.${brandId}`;
}

function thresholdMessage(prefix: string, r: ThresholdReached, nowMs: number): OutboxMessage {
  const eventId = uuidv7(nowMs);
  const payload = toBinary(
    BudgetThresholdEventSchema,
    create(BudgetThresholdEventSchema, {
      eventId,
      brandId: r.brandId,
      period: { kind: r.kind, start: parseDate(r.periodStart) },
      spentMicros: r.spent,
      limitMicros: r.limit,
      cause: r.cause === "spend" ? BudgetEventCause.SPEND : BudgetEventCause.LIMIT_CHANGE,
      occurTime: timestampFromMs(nowMs),
      percent: r.percent,
      thresholdMicros: r.threshold,
    }),
  );
  return { eventId, aggregateId: r.brandId, subject: thresholdSubject(prefix, r.brandId), payload };
}
