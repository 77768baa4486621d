import type pg from "pg";
import {
  decodePageToken,
  encodePageToken,
  inTransaction,
  InvalidArgumentError,
  NotFoundError,
  type Actor,
} from "@adbudget/kit";
import { formatDate, periodsOf } from "@adbudget/time";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { lockBudgetRow, recordBudgetChange } from "./budget-changes.js";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { patchedLimits, storedPacing, type BudgetPatch, type StoredPacing } from "./budget-patch.js";
import { writePeriodEvents, type PeriodChange } from "./events.js";
import { micros, transition } from "./period-rules.js";
import { openPeriod, periodEnd, type OpenedPeriod } from "./period-opening.js";
import {
  parsePercents,
  reachedThresholds,
  thresholdOf,
  writeThresholdEvents,
  type ThresholdReached,
} from "./thresholds.js";
import {
  brandCurrentPeriods,
  SELECT_SPEND,
  toStoredSpend,
  type CurrentPeriod,
  type Kind,
  type RawSpend,
  type StoredSpend,
} from "./ledger-reads.js";

export interface BudgetRow {
  brandId: string;
  daily: bigint | null;
  monthly: bigint | null;
  createdAt: Date;
  updatedAt: Date;
  /** Alert thresholds in percent, ascending. */
  alertPercents: number[];
  pacing: StoredPacing;
}

export interface PeriodRow {
  brandId: string;
  kind: Kind;
  start: string;
  spent: bigint;
  limit: bigint | null;
  exhausted: boolean;
  eventCount: bigint;
  exhaustedAt: Date | null;
}

const SELECT_BUDGET = `select brand_id::text, daily_limit_micros::text as daily, monthly_limit_micros::text as monthly,
  created_at, updated_at, alert_percents::text as alerts, pacing_mode as pacing from budgets`;

interface RawBudget {
  brand_id: string;
  daily: string | null;
  monthly: string | null;
  created_at: Date;
  updated_at: Date;
  alerts: string;
  pacing: number;
}

function toBudget(r: RawBudget): BudgetRow {
  return {
    brandId: r.brand_id,
    daily: micros(r.daily),
    monthly: micros(r.monthly),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    alertPercents: parsePercents(r.alerts),
    pacing: storedPacing(r.pacing) ?? PacingMode.PACED,
  };
}

/**
 * Budgets and reads of the ledger. SetBudget re-evaluates the brand's current day and month in
 * the same transaction as the change and writes exhausted / replenished events to the outbox.
 */
export class BudgetStore {
  constructor(
    readonly pool: pg.Pool,
    private readonly subjectPrefix: string,
    private readonly onEvents: () => void = () => undefined,
  ) {}

  /**
   * Applies a SetBudget (budget-patch.ts: the fields it names change, the others are kept) and
   * the resulting limits to every period not yet ended: the current day and month, and any
   * later period a spend dated a few minutes ahead has already opened. Each is judged again in
   * the same transaction and writes an exhausted / replenished event when it crosses. Lock
   * order as in the spend writer: the budget row (created first if the brand has none, so even
   * a brand's first calls serialize on it), then period rows by (kind, start).
   *
   * "Now" is read once the budget row is locked: a call that waited on the lock across a local
   * midnight sets the limit of the new day, never of the day that ended while it waited (a
   * limit never changes on an ended period). Returns that instant with the result.
   */
  async setBudget(
    brandId: string,
    patch: BudgetPatch,
    timeZone: string,
    clock: () => number,
    actor: Actor,
  ): Promise<{ budget: BudgetRow; day: CurrentPeriod; month: CurrentPeriod; asOfMs: number }> {
    return this.tx(async (client) => {
      const { before, created, alerts: alertsBefore, pacing: pacingBefore } = await lockBudgetRow(client, brandId);
      const nowMs = clock();
      const now = new Date(nowMs);
      const p = periodsOf(nowMs, timeZone);
      const limits = patchedLimits(before, patch);
      const alertsAfter = patch.alerts === undefined ? alertsBefore : [...new Set(patch.alerts)].sort((a, b) => a - b);
      const pacingAfter = patch.pacing ?? pacingBefore;
      await recordBudgetChange(
        client,
        brandId,
        actor,
        before,
        limits,
        now,
        { before: alertsBefore, after: alertsAfter },
        { before: created ? PacingMode.UNSPECIFIED : pacingBefore, after: pacingAfter },
      );
      const { rows } = await client.query<RawBudget>(
        `update budgets set daily_limit_micros = $2, monthly_limit_micros = $3, updated_at = $4,
           created_at = case when $5 then $4 else created_at end,
           alert_percents = coalesce($6::smallint[], alert_percents), pacing_mode = $7
         where brand_id = $1
         returning brand_id::text, daily_limit_micros::text as daily, monthly_limit_micros::text as monthly, created_at, updated_at,
           alert_percents::text as alerts, pacing_mode as pacing`,
        [
          brandId,
          limits.daily?.toString() ?? null,
          limits.monthly?.toString() ?? null,
          now,
          created,
          patch.alerts === undefined ? null : alertsAfter,
          pacingAfter,
        ],
      );
      // The current periods, and every later one that exists already, in lock order.
      const { rows: later } = await client.query<{ kind: Kind; start: string }>(
        `select kind, period_start::text as start from budget_periods
         where brand_id = $1 and ((kind = ${PeriodKind.DAY} and period_start > $2) or (kind = ${PeriodKind.MONTH} and period_start > $3))`,
        [brandId, formatDate(p.day), formatDate(p.month)],
      );
      const targets = [
        { kind: PeriodKind.DAY, start: formatDate(p.day) },
        { kind: PeriodKind.MONTH, start: formatDate(p.month) },
        ...later,
      ].sort((a, b) => a.kind - b.kind || (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
      const periods = await client.query<{
        kind: Kind;
        start: string;
        spent: string;
        lim: string | null;
        exhausted: boolean;
      }>(
        `insert into budget_periods as bp (brand_id, kind, period_start, limit_micros, updated_at)
         select $1, u.kind, u.period_start, case u.kind when ${PeriodKind.DAY} then $4::bigint else $5::bigint end, $6
         from unnest($2::int2[], $3::date[]) with ordinality as u(kind, period_start, ord)
         order by u.ord
         on conflict (brand_id, kind, period_start) do update set limit_micros = excluded.limit_micros, updated_at = excluded.updated_at
         returning kind, period_start::text as start, spent_micros::text as spent, limit_micros::text as lim, exhausted`,
        [
          brandId,
          targets.map((t) => t.kind),
          targets.map((t) => t.start),
          limits.daily?.toString() ?? null,
          limits.monthly?.toString() ?? null,
          now,
        ],
      );
      const changes: PeriodChange[] = [];
      for (const r of periods.rows) {
        const figures = { spent: BigInt(r.spent), limit: micros(r.lim) };
        const t = transition(r.exhausted, figures);
        if (t !== undefined)
          changes.push({ brandId, kind: r.kind, periodStart: r.start, type: t, ...figures, cause: "limit", actor });
      }
      await writePeriodEvents(client, this.subjectPrefix, changes, nowMs);
      // Thresholds the current periods stand past now (a lowered limit, a new threshold): once each.
      const budget = toBudget(rows[0]);
      const reached: ThresholdReached[] = [];
      for (const r of periods.rows) {
        if (r.start !== formatDate(r.kind === PeriodKind.DAY ? p.day : p.month)) continue;
        const spent = BigInt(r.spent);
        const limit = micros(r.lim);
        if (limit === null) continue;
        for (const percent of reachedThresholds(spent, limit, budget.alertPercents)) {
          reached.push({
            brandId,
            kind: r.kind,
            periodStart: r.start,
            percent,
            threshold: thresholdOf(limit, percent),
            spent,
            limit,
            cause: "limit",
          });
        }
      }
      const alerts = await writeThresholdEvents(client, this.subjectPrefix, reached, nowMs);
      const c = await brandCurrentPeriods(client, brandId, timeZone, nowMs);
      return { result: { budget, day: c.day, month: c.month, asOfMs: nowMs }, events: changes.length + alerts };
    });
  }

  /** Opens one period of a brand in its own transaction (period-opening.ts). */
  async openPeriod(
    brandId: string,
    kind: Kind,
    start: string,
    zone: string,
    nowMs: number,
    actor: Actor,
  ): Promise<OpenedPeriod> {
    return this.tx(async (client) => {
      const { opened, events } = await openPeriod(
        client,
        this.subjectPrefix,
        { brandId, kind, start, endMs: periodEnd(kind, start, zone), actor },
        nowMs,
      );
      return { result: opened, events };
    });
  }

  /**
   * The cap state of each campaign of the brand known to the ledger on one day ("YYYY-MM-DD"):
   * exhausted and the sequence of its last cap event (a campaign without a row that day: not
   * exhausted, sequence 0).
   */
  async capStates(brandId: string, day: string): Promise<{ campaignId: string; exhausted: boolean; seq: bigint }[]> {
    const { rows } = await this.pool.query<{ campaign_id: string; exhausted: boolean; seq: string }>(
      `select k.campaign_id::text, coalesce(d.cap_exhausted, false) as exhausted, coalesce(d.cap_seq, 0)::text as seq
       from campaign_settings k
       left join campaign_day_spend d on d.brand_id = k.brand_id and d.campaign_id = k.campaign_id and d.day = $2
       where k.brand_id = $1 order by k.campaign_id`,
      [brandId, day],
    );
    return rows.map((r) => ({ campaignId: r.campaign_id, exhausted: r.exhausted, seq: BigInt(r.seq) }));
  }

  /**
   * The lifetime state of each campaign of the brand known to the ledger: exhausted and the
   * sequence of its last lifetime event (a campaign that never spent: not exhausted, sequence 0).
   */
  async lifetimeStates(brandId: string): Promise<{ campaignId: string; exhausted: boolean; seq: bigint }[]> {
    const { rows } = await this.pool.query<{ campaign_id: string; exhausted: boolean; seq: string }>(
      `select k.campaign_id::text, coalesce(l.exhausted, false) as exhausted, coalesce(l.seq, 0)::text as seq
       from campaign_settings k
       left join campaign_lifetime_spend l on l.brand_id = k.brand_id and l.campaign_id = k.campaign_id
       where k.brand_id = $1 order by k.campaign_id`,
      [brandId],
    );
    return rows.map((r) => ({ campaignId: r.campaign_id, exhausted: r.exhausted, seq: BigInt(r.seq) }));
  }

  /** Runs `fn` in a transaction; wakes the outbox relay when it wrote events. */
  private async tx<T>(fn: (client: pg.PoolClient) => Promise<{ result: T; events: number }>): Promise<T> {
    const { result, events } = await inTransaction(this.pool, fn);
    if (events > 0) this.onEvents();
    return result;
  }

  /** The brand's budget, or undefined when it has none. */
  async findBudget(brandId: string): Promise<BudgetRow | undefined> {
    const { rows } = await this.pool.query<RawBudget>(`${SELECT_BUDGET} where brand_id = $1`, [brandId]);
    return rows.length === 0 ? undefined : toBudget(rows[0]);
  }

  async getBudget(brandId: string): Promise<BudgetRow> {
    const budget = await this.findBudget(brandId);
    if (budget === undefined) throw new NotFoundError("budget of brand", brandId);
    return budget;
  }

  async status(
    brandId: string,
    timeZone: string,
    nowMs: number,
  ): Promise<{ day: CurrentPeriod; month: CurrentPeriod }> {
    const client = await this.pool.connect();
    try {
      return await brandCurrentPeriods(client, brandId, timeZone, nowMs);
    } finally {
      client.release();
    }
  }

  /**
   * What the brand spent that occurred in (sinceMs, untilMs]: the pace of the forecast. Reads the
   * (brand_id, occurred_at) index range of the window: a brand spending 100 events a second has
   * 360,000 rows in an hour, summed in well under a second; GetBudgetStatus is an operator's
   * read, not on the spend path.
   */
  async spentBetween(brandId: string, sinceMs: number, untilMs: number): Promise<bigint> {
    const { rows } = await this.pool.query<{ sum: string }>(
      "select coalesce(sum(amount_micros), 0)::text as sum from spend_events where brand_id = $1 and occurred_at > $2 and occurred_at <= $3",
      [brandId, new Date(sinceMs), new Date(untilMs)],
    );
    return BigInt(rows[0].sum);
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
    // The key: `<occurred_at ms>|<event id>`.
    const after = decodePageToken(filter.pageToken, tokenFilter, /^\d{1,15}\|[\s\S]+$/);
    let afterMs: number | undefined;
    let afterId: string | undefined;
    if (after !== undefined) {
      const sep = after.indexOf("|");
      afterMs = Number(after.slice(0, sep));
      afterId = after.slice(sep + 1);
      if (!Number.isFinite(afterMs))
        throw new InvalidArgumentError([{ field: "page_token", description: "malformed" }]);
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
        rows.length > filter.limit && last
          ? encodePageToken(`${last.occurredAt.getTime()}|${last.eventId}`, tokenFilter)
          : "",
    };
  }

  /** Periods newest first (by start, then day before month), keyset-paged. */
  async listPeriods(filter: {
    brandId: string;
    kind: PeriodKind;
    pageToken: string;
    limit: number;
  }): Promise<{ periods: PeriodRow[]; nextPageToken: string }> {
    const tokenFilter = { b: filter.brandId, k: filter.kind };
    // The key: `<period start>|<kind>`.
    const after = decodePageToken(filter.pageToken, tokenFilter, /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])\|[12]$/);
    const [afterStart, afterKind] = after?.split("|") ?? [];
    if (after !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(afterStart ?? "")) {
      throw new InvalidArgumentError([{ field: "page_token", description: "malformed" }]);
    }
    const { rows } = await this.pool.query<{
      kind: number;
      start: string;
      spent: string;
      lim: string | null;
      exhausted: boolean;
      cnt: string;
      exhausted_at: Date | null;
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
      kind: r.kind,
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
      nextPageToken:
        rows.length > filter.limit && last ? encodePageToken(`${last.start}|${last.kind}`, tokenFilter) : "",
    };
  }
}
