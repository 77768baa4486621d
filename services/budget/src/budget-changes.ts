import type pg from "pg";
import { decodePageToken, encodePageToken, uuidv7, type Actor } from "@adbudget/kit";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { storedPacing, type StoredPacing } from "./budget-patch.js";
import { micros } from "./period-rules.js";

/** A stored pacing mode; anything else (null: recorded before modes were) reads as UNSPECIFIED. */
export function pacingOf(v: number | null | undefined): PacingMode {
  return storedPacing(v) ?? PacingMode.UNSPECIFIED;
}

export interface Limits {
  daily: bigint | null;
  monthly: bigint | null;
}

/** One SetBudget as recorded. */
export interface BudgetChangeRow {
  id: string;
  brandId: string;
  principal: string;
  requestId: string;
  changedAt: Date;
  before: Limits;
  after: Limits;
  /** The alert thresholds before and after, in percent ([] before they were recorded). */
  alertsBefore: number[];
  alertsAfter: number[];
  /** The pacing mode before (UNSPECIFIED: a new budget, or recorded before modes were) and after. */
  pacingBefore: PacingMode;
  pacingAfter: PacingMode;
}

/** A brand's budget row, locked for a change. */
export interface LockedBudget {
  /** The limits before the change (null limits on a budget this call created). */
  before: Limits;
  /** Its alert thresholds before the change, ascending. */
  alerts: number[];
  /** True when this call created the row (the brand's first SetBudget). */
  created: boolean;
  /** Its pacing mode before the change (the column's default, PACED, on a row this call created). */
  pacing: StoredPacing;
}

/**
 * Locks the brand's budget row for a change, creating it first (unlimited, no alerts) when the
 * brand has none, so that every SetBudget of a brand, its first included, serializes on that
 * one row: two first calls at once cannot both read "no budget" and both record it as their
 * "before". The insert does nothing when the row exists, and when another transaction has just
 * inserted it, it waits for that one to end (the unique index), after which `for update` reads
 * the committed limits. The row's timestamps are set by the caller's update under the lock.
 */
export async function lockBudgetRow(client: pg.ClientBase, brandId: string): Promise<LockedBudget> {
  const inserted = await client.query(
    `insert into budgets (brand_id, daily_limit_micros, monthly_limit_micros, created_at, updated_at, alert_percents)
     values ($1, null, null, $2, $2, '{}') on conflict (brand_id) do nothing`,
    [brandId, new Date(0)],
  );
  const { rows } = await client.query<{
    daily: string | null;
    monthly: string | null;
    alerts: number[];
    pacing: number;
  }>(
    `select daily_limit_micros::text as daily, monthly_limit_micros::text as monthly, alert_percents::int[] as alerts,
            pacing_mode as pacing
     from budgets where brand_id = $1 for update`,
    [brandId],
  );
  return {
    before: { daily: micros(rows[0]?.daily ?? null), monthly: micros(rows[0]?.monthly ?? null) },
    alerts: rows[0]?.alerts ?? [],
    created: inserted.rowCount === 1,
    pacing: storedPacing(rows[0]?.pacing) ?? PacingMode.PACED,
  };
}

/** Records a change in the caller's transaction (the audit of budgets: ListBudgetChanges). */
export async function recordBudgetChange(
  client: pg.ClientBase,
  brandId: string,
  actor: Actor,
  before: Limits,
  after: Limits,
  now: Date,
  alerts: { before: number[]; after: number[] },
  pacing: { before: PacingMode; after: StoredPacing },
): Promise<void> {
  await client.query(
    `insert into budget_changes (id, brand_id, principal, request_id, changed_at, old_daily_limit_micros, old_monthly_limit_micros,
                                 new_daily_limit_micros, new_monthly_limit_micros, old_alert_percents, new_alert_percents,
                                 old_pacing_mode, new_pacing_mode)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      uuidv7(now.getTime()),
      brandId,
      actor.principal,
      actor.requestId,
      now,
      before.daily?.toString() ?? null,
      before.monthly?.toString() ?? null,
      after.daily?.toString() ?? null,
      after.monthly?.toString() ?? null,
      alerts.before,
      alerts.after,
      pacing.before === PacingMode.UNSPECIFIED ? null : pacing.before,
      pacing.after,
    ],
  );
}

/** A brand's changes, newest first, keyset-paged by id (UUIDv7: time order). */
export async function listBudgetChanges(
  pool: pg.Pool,
  filter: { brandId: string; pageToken: string; limit: number },
): Promise<{ changes: BudgetChangeRow[]; nextPageToken: string }> {
  const tokenFilter = { b: filter.brandId };
  const before = decodePageToken(filter.pageToken, tokenFilter);
  const { rows } = await pool.query<{
    id: string;
    principal: string;
    request_id: string;
    changed_at: Date;
    od: string | null;
    om: string | null;
    nd: string | null;
    nm: string | null;
    oa: number[] | null;
    na: number[] | null;
    op: number | null;
    np: number | null;
  }>(
    `select id::text, principal, request_id, changed_at, old_daily_limit_micros::text as od, old_monthly_limit_micros::text as om,
            new_daily_limit_micros::text as nd, new_monthly_limit_micros::text as nm,
            old_alert_percents::int[] as oa, new_alert_percents::int[] as na, old_pacing_mode as op, new_pacing_mode as np
     from budget_changes where brand_id = $1 and ($2::uuid is null or id < $2) order by id desc limit $3`,
    [filter.brandId, before ?? null, filter.limit + 1],
  );
  const changes = rows.slice(0, filter.limit).map((r): BudgetChangeRow => ({
    id: r.id,
    brandId: filter.brandId,
    principal: r.principal,
    requestId: r.request_id,
    changedAt: r.changed_at,
    before: { daily: micros(r.od), monthly: micros(r.om) },
    after: { daily: micros(r.nd), monthly: micros(r.nm) },
    alertsBefore: r.oa ?? [],
    alertsAfter: r.na ?? [],
    pacingBefore: pacingOf(r.op),
    pacingAfter: pacingOf(r.np),
  }));
  const last = changes.at(-1);
  return { changes, nextPageToken: rows.length > filter.limit && last ? encodePageToken(last.id, tokenFilter) : "" };
}
