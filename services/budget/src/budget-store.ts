import type pg from "pg";
import { NotFoundError, decodePageToken, encodePageToken, InvalidArgumentError } from "@adbudget/kit";
import { formatDate, periodsOf } from "@adbudget/time";
import { writePeriodEvents, type PeriodChange } from "./events.js";
import { micros, transition } from "./period-rules.js";
import { currentPeriods, SELECT_SPEND, toStoredSpend, type CurrentPeriod, type RawSpend, type StoredSpend } from "./spend-writer.js";

export interface BudgetRow {
  brandId: string;
  daily: bigint | null;
  monthly: bigint | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface PeriodRow {
  brandId: string;
  kind: 1 | 2;
  start: string;
  spent: bigint;
  limit: bigint | null;
  exhausted: boolean;
  eventCount: bigint;
  exhaustedAt: Date | null;
}

const SELECT_BUDGET = `select brand_id::text, daily_limit_micros::text as daily, monthly_limit_micros::text as monthly,
  created_at, updated_at from budgets`;

interface RawBudget {
  brand_id: string;
  daily: string | null;
  monthly: string | null;
  created_at: Date;
  updated_at: Date;
}

function toBudget(r: RawBudget): BudgetRow {
  return { brandId: r.brand_id, daily: micros(r.daily), monthly: micros(r.monthly), createdAt: r.created_at, updatedAt: r.updated_at };
}

/**
 * Budgets and reads of the ledger. SetBudget re-evaluates the brand's current day and month in
 * the same transaction as the change and writes exhausted / replenished events to the outbox.
 */
export class BudgetStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly subjectPrefix: string,
    private readonly onEvents: () => void = () => undefined,
  ) {}

  async setBudget(
    brandId: string,
    limits: { daily: bigint | null; monthly: bigint | null },
    timeZone: string,
    nowMs: number,
  ): Promise<{ budget: BudgetRow; day: CurrentPeriod; month: CurrentPeriod }> {
    const now = new Date(nowMs);
    const p = periodsOf(nowMs, timeZone);
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      const { rows } = await client.query<RawBudget>(
        `insert into budgets (brand_id, daily_limit_micros, monthly_limit_micros, created_at, updated_at)
         values ($1, $2, $3, $4, $4)
         on conflict (brand_id) do update set daily_limit_micros = excluded.daily_limit_micros,
           monthly_limit_micros = excluded.monthly_limit_micros, updated_at = excluded.updated_at
         returning brand_id::text, daily_limit_micros::text as daily, monthly_limit_micros::text as monthly, created_at, updated_at`,
        [brandId, limits.daily?.toString() ?? null, limits.monthly?.toString() ?? null, now],
      );
      // The current periods take the new limits at once (day first: the spend writer's lock order).
      const periods = await client.query<{ kind: number; start: string; spent: string; lim: string | null; exhausted: boolean }>(
        `insert into budget_periods as bp (brand_id, kind, period_start, limit_micros, updated_at)
         values ($1, 1, $2, $4, $6), ($1, 2, $3, $5, $6)
         on conflict (brand_id, kind, period_start) do update set limit_micros = excluded.limit_micros, updated_at = excluded.updated_at
         returning kind, period_start::text as start, spent_micros::text as spent, limit_micros::text as lim, exhausted`,
        [brandId, formatDate(p.day), formatDate(p.month), limits.daily?.toString() ?? null, limits.monthly?.toString() ?? null, now],
      );
      const changes: PeriodChange[] = [];
      for (const r of periods.rows) {
        const figures = { spent: BigInt(r.spent), limit: micros(r.lim) };
        const t = transition(r.exhausted, figures);
        if (t === undefined) continue;
        changes.push({ brandId, kind: r.kind as 1 | 2, periodStart: r.start, type: t, ...figures, cause: "limit" });
        await client.query(
          `update budget_periods set exhausted = $4, exhausted_at = case when $4 then $5::timestamptz else exhausted_at end
           where brand_id = $1 and kind = $2 and period_start = $3`,
          [brandId, r.kind, r.start, t === "exhausted", now],
        );
      }
      await writePeriodEvents(client, this.subjectPrefix, changes, nowMs);
      const current = await currentPeriods(client, new Map([[brandId, timeZone]]), nowMs);
      await client.query("commit");
      if (changes.length > 0) this.onEvents();
      const c = current.get(brandId)!;
      return { budget: toBudget(rows[0]!), day: c.day, month: c.month };
    } catch (err) {
      await client.query("rollback").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async getBudget(brandId: string): Promise<BudgetRow> {
    const { rows } = await this.pool.query<RawBudget>(`${SELECT_BUDGET} where brand_id = $1`, [brandId]);
    if (rows.length === 0) throw new NotFoundError("budget of brand", brandId);
    return toBudget(rows[0]!);
  }

  async status(brandId: string, timeZone: string, nowMs: number): Promise<{ day: CurrentPeriod; month: CurrentPeriod }> {
    const client = await this.pool.connect();
    try {
      return (await currentPeriods(client, new Map([[brandId, timeZone]]), nowMs)).get(brandId)!;
    } finally {
      client.release();
    }
  }

  /** Spend events newest first, keyset-paged on (occurred_at, event_id). */
  async listSpend(filter: {
    brandId: string;
    campaignId: string;
    startMs?: number;
    endMs?: number;
    pageToken: string;
    limit: number;
  }): Promise<{ events: StoredSpend[]; nextPageToken: string }> {
    const tokenFilter = { b: filter.brandId, c: filter.campaignId, s: filter.startMs, e: filter.endMs };
    const after = decodePageToken(filter.pageToken, tokenFilter);
    let afterMs: number | undefined;
    let afterId: string | undefined;
    if (after !== undefined) {
      const sep = after.indexOf("|");
      afterMs = Number(after.slice(0, sep));
      afterId = after.slice(sep + 1);
      if (!Number.isFinite(afterMs)) throw new InvalidArgumentError([{ field: "page_token", description: "malformed" }]);
    }
    const { rows } = await this.pool.query<RawSpend>(
      `${SELECT_SPEND}
       where brand_id = $1
         and ($2::uuid is null or campaign_id = $2)
         and ($3::timestamptz is null or occurred_at >= $3)
         and ($4::timestamptz is null or occurred_at < $4)
         and ($5::timestamptz is null or (occurred_at, event_id) < ($5, $6))
       order by occurred_at desc, event_id desc
       limit $7`,
      [
        filter.brandId,
        filter.campaignId || null,
        filter.startMs === undefined ? null : new Date(filter.startMs),
        filter.endMs === undefined ? null : new Date(filter.endMs),
        afterMs === undefined ? null : new Date(afterMs),
        afterId ?? null,
        filter.limit + 1,
      ],
    );
    const page = rows.slice(0, filter.limit).map(toStoredSpend);
    const last = page.at(-1);
    return {
      events: page,
      nextPageToken:
        rows.length > filter.limit && last ? encodePageToken(`${last.occurredAt.getTime()}|${last.eventId}`, tokenFilter) : "",
    };
  }

  /** Periods newest first (by start, then day before month), keyset-paged. */
  async listPeriods(filter: { brandId: string; kind: 0 | 1 | 2; pageToken: string; limit: number }): Promise<{ periods: PeriodRow[]; nextPageToken: string }> {
    const tokenFilter = { b: filter.brandId, k: filter.kind };
    const after = decodePageToken(filter.pageToken, tokenFilter);
    const [afterStart, afterKind] = after?.split("|") ?? [];
    if (after !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(afterStart ?? "")) {
      throw new InvalidArgumentError([{ field: "page_token", description: "malformed" }]);
    }
    const { rows } = await this.pool.query<{
      kind: number; start: string; spent: string; lim: string | null; exhausted: boolean; cnt: string; exhausted_at: Date | null;
    }>(
      `select kind, period_start::text as start, spent_micros::text as spent, limit_micros::text as lim, exhausted,
              event_count::text as cnt, exhausted_at
       from budget_periods
       where brand_id = $1 and ($2::int2 = 0 or kind = $2)
         and ($3::date is null or (period_start, kind) < ($3, $4::int2))
       order by period_start desc, kind desc
       limit $5`,
      [filter.brandId, filter.kind, afterStart ?? null, Number(afterKind ?? 0), filter.limit + 1],
    );
    const periods = rows.slice(0, filter.limit).map((r): PeriodRow => ({
      brandId: filter.brandId,
      kind: r.kind as 1 | 2,
      start: r.start,
      spent: BigInt(r.spent),
      limit: micros(r.lim),
      exhausted: r.exhausted,
      eventCount: BigInt(r.cnt),
      exhaustedAt: r.exhausted_at,
    }));
    const last = periods.at(-1);
    return {
      periods,
      nextPageToken: rows.length > filter.limit && last ? encodePageToken(`${last.start}|${last.kind}`, tokenFilter) : "",
    };
  }
}
