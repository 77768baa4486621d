import type pg from "pg";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { nextMonthStart, parseDate, startOfDay, addDays } from "@adbudget/time";
import { writePeriodEvents, type PeriodChange } from "./events.js";
import type { CurrentPeriod, Kind } from "./ledger-reads.js";
import { judge, micros, transition } from "./period-rules.js";
import type { Actor } from "@adbudget/kit";

/** A period as it opened: its figures, whether it is exhausted, and the sequence of its last event. */
export interface OpenedPeriod {
  period: CurrentPeriod;
  exhausted: boolean;
  sequence: bigint;
}

/** The first instant after the period that starts on `start` ("YYYY-MM-DD") in `zone`. */
export function periodEnd(kind: Kind, start: string, zone: string): number {
  const d = parseDate(start);
  return startOfDay(kind === PeriodKind.DAY ? addDays(d, 1) : nextMonthStart(d), zone);
}

/**
 * The limit that was in force when a period ended, from the budget's history (budget_changes):
 * the last change before its end, or none (no budget then: unlimited). `$1` brand, `$2` kind,
 * `$3` the period's end (timestamptz). A limit applies to every period not yet ended, so the last
 * limit set before the end is the one the period ended with.
 */
export const LIMIT_AT_END = `(select case $2::int2 when ${PeriodKind.DAY} then c.new_daily_limit_micros else c.new_monthly_limit_micros end
   from budget_changes c where c.brand_id = $1 and c.changed_at < $3 order by c.changed_at desc, c.id desc limit 1)`;

/**
 * Opens one period of a brand (the clocks call it at the period's first instant, reconciliation
 * on every pass): the row is created if missing, takes the budget's current limit (a period that
 * has not ended follows the budget), and is judged; opening at or past the limit (a limit of 0,
 * spend dated ahead) writes an exhausted event. A brand without a budget and without spend in the
 * period gets no row: it is unlimited.
 *
 * A period whose end has passed (a clock that ran late, a reconciliation pass that reached the
 * brand after its midnight) is only read: a limit never changes on an ended period, and nothing is
 * published for it (campaigns are judged by the current period). Without a row it answers the
 * limit that was in force at its end.
 *
 * Lock order as everywhere in the ledger: the budget row (shared), then the period row.
 */
export async function openPeriod(
  client: pg.ClientBase,
  prefix: string,
  p: { brandId: string; kind: Kind; start: string; endMs: number; actor: Actor },
  nowMs: number,
): Promise<{ opened: OpenedPeriod; events: number }> {
  const { brandId, kind, start } = p;
  if (p.endMs <= nowMs) {
    const row = await periodRow(client, brandId, kind, start, false);
    if (row !== undefined) {
      const figures = { spent: BigInt(row.spent), limit: micros(row.lim) };
      return {
        opened: { period: { kind, start, ...figures }, exhausted: row.exhausted, sequence: BigInt(row.seq) },
        events: 0,
      };
    }
    const { rows } = await client.query<{ lim: string | null }>(`select ${LIMIT_AT_END}::text as lim`, [
      brandId,
      kind,
      new Date(p.endMs),
    ]);
    const figures = { spent: 0n, limit: micros(rows[0]?.lim ?? null) };
    return {
      opened: { period: { kind, start, ...figures }, exhausted: judge(figures).exhausted, sequence: 0n },
      events: 0,
    };
  }
  const { rows } = await client.query<{ spent: string; lim: string | null; exhausted: boolean; seq: string }>(
    `insert into budget_periods as bp (brand_id, kind, period_start, limit_micros, updated_at)
     select $1, $2, $3, case $2::int2 when ${PeriodKind.DAY} then b.daily_limit_micros else b.monthly_limit_micros end, $4
     from budgets b where b.brand_id = $1 for share of b
     on conflict (brand_id, kind, period_start) do update set limit_micros = excluded.limit_micros
     returning spent_micros::text as spent, limit_micros::text as lim, exhausted, event_seq::text as seq`,
    [brandId, kind, start, new Date(nowMs)],
  );
  const row = rows[0] ?? (await periodRow(client, brandId, kind, start, true));
  if (row === undefined) {
    return { opened: { period: { kind, start, spent: 0n, limit: null }, exhausted: false, sequence: 0n }, events: 0 };
  }
  const figures = { spent: BigInt(row.spent), limit: micros(row.lim) };
  const t = transition(row.exhausted, figures);
  const changes: PeriodChange[] =
    t === undefined ? [] : [{ brandId, kind, periodStart: start, type: t, ...figures, cause: "open", actor: p.actor }];
  await writePeriodEvents(client, prefix, changes, nowMs);
  const after = changes.length > 0 ? await periodRow(client, brandId, kind, start, true) : row;
  return {
    opened: { period: { kind, start, ...figures }, exhausted: judge(figures).exhausted, sequence: BigInt(after.seq) },
    events: changes.length,
  };
}

async function periodRow(client: pg.ClientBase, brandId: string, kind: Kind, start: string, lock: boolean) {
  const { rows } = await client.query<{ spent: string; lim: string | null; exhausted: boolean; seq: string }>(
    `select spent_micros::text as spent, limit_micros::text as lim, exhausted, event_seq::text as seq
     from budget_periods where brand_id = $1 and kind = $2 and period_start = $3 ${lock ? "for update" : ""}`,
    [brandId, kind, start],
  );
  return rows[0];
}
