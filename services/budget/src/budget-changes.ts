import type pg from "pg";
import { decodePageToken, encodePageToken, uuidv7 } from "@adbudget/kit";
import { micros } from "./period-rules.js";

/** Who made a change: the caller's token subject ("" when authentication is off) and request id. */
export interface Actor {
  principal: string;
  requestId: string;
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
}

/** The limits before a change, under the budget row's lock (null limits when there is no budget yet). */
export async function lockedLimits(client: pg.ClientBase, brandId: string): Promise<Limits> {
  const { rows } = await client.query<{ daily: string | null; monthly: string | null }>(
    "select daily_limit_micros::text as daily, monthly_limit_micros::text as monthly from budgets where brand_id = $1 for update",
    [brandId],
  );
  return { daily: micros(rows[0]?.daily ?? null), monthly: micros(rows[0]?.monthly ?? null) };
}

/** Records a change in the caller's transaction (the audit of budgets: ListBudgetChanges). */
export async function recordBudgetChange(client: pg.ClientBase, brandId: string, actor: Actor, before: Limits, after: Limits, now: Date): Promise<void> {
  await client.query(
    `insert into budget_changes (id, brand_id, principal, request_id, changed_at, old_daily_limit_micros, old_monthly_limit_micros,
                                 new_daily_limit_micros, new_monthly_limit_micros)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [uuidv7(now.getTime()), brandId, actor.principal, actor.requestId, now,
      before.daily?.toString() ?? null, before.monthly?.toString() ?? null, after.daily?.toString() ?? null, after.monthly?.toString() ?? null],
  );
}

/** A brand's changes, newest first, keyset-paged by id (UUIDv7: time order). */
export async function listBudgetChanges(pool: pg.Pool, filter: { brandId: string; pageToken: string; limit: number }): Promise<{ changes: BudgetChangeRow[]; nextPageToken: string }> {
  const tokenFilter = { b: filter.brandId };
  const before = decodePageToken(filter.pageToken, tokenFilter);
  const { rows } = await pool.query<{
    id: string; principal: string; request_id: string; changed_at: Date; od: string | null; om: string | null; nd: string | null; nm: string | null;
  }>(
    `select id::text, principal, request_id, changed_at, old_daily_limit_micros::text as od, old_monthly_limit_micros::text as om,
            new_daily_limit_micros::text as nd, new_monthly_limit_micros::text as nm
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
  }));
  const last = changes.at(-1);
  return { changes, nextPageToken: rows.length > filter.limit && last ? encodePageToken(last.id, tokenFilter) : "" };
}
