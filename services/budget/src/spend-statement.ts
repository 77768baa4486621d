import type pg from "pg";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, periodsOf } from "@adbudget/time";
import type { CurrentPeriod, Kind } from "./ledger-reads.js";
import { micros } from "./period-rules.js";
import { parsePercents } from "./thresholds.js";
import type { SpendInput } from "./spend-writer.js";

/** The events of one transaction, deduplicated and attributed (see planBatch in spend-writer). */
export interface SpendRows {
  /** One input per (brand, event id), sorted by brand then event id. */
  unique: SpendInput[];
  /** Their local days and months, "YYYY-MM-DD". */
  days: string[];
  months: string[];
  /** The first instant after each one's day and month (epoch ms): a period whose end has passed takes no new limit. */
  dayEnds: number[];
  monthEnds: number[];
}

/** A period total after the statement added to it. */
export interface AddedPeriod extends CurrentPeriod {
  brandId: string;
  /** The period's flag before this batch (the statement does not change it). */
  exhausted: boolean;
  /** What this batch added to the period (its total before the batch is `spent - added`). */
  added: bigint;
  /** The brand's alert thresholds (Budget.alert_percents). */
  alertPercents: number[];
}

/** A campaign's day total that this batch took to its cap (Campaign.daily_limit_micros). */
export interface CapReached {
  brandId: string;
  campaignId: string;
  /** The brand's local day, "YYYY-MM-DD". */
  day: string;
  spent: bigint;
  limit: bigint;
}

/** A campaign's lifetime total that this batch took to its limit (Campaign.lifetime_limit_micros). */
export interface LifetimeReached {
  brandId: string;
  campaignId: string;
  spent: bigint;
  limit: bigint;
}

export interface Applied {
  /** Positions in `unique` of the events the ledger held already (a retry; usually none). */
  skipped: number[];
  /** Every period total the batch added to, as it stands now. */
  added: AddedPeriod[];
  /** The current day and month of each brand of the batch (now, in its zone). */
  current: Map<string, { day: CurrentPeriod; month: CurrentPeriod }>;
  /** Campaign day totals this batch took to their caps (each publishes one cap event). */
  capsReached: CapReached[];
  /** Campaign lifetime totals this batch took to their limits (each publishes one lifetime event). */
  lifetimesReached: LifetimeReached[];
  /** Positions in `unique` of the events recorded outside their campaign's flight dates. */
  outsideFlight: Set<number>;
}

/**
 * One row of the spend statement's answer, by its tag `t` (the branches of its `union all`):
 * 0 an input skipped as a repeat, 1 a period the batch added to, 2 a current period as it
 * stands, 3 a campaign day whose cap the batch crossed, 4 an input outside its campaign's flight,
 * 5 a campaign whose lifetime limit the batch crossed.
 * `i` is the input's index.
 */
type StatementRow =
  | { t: 0 | 4; i: number }
  | {
      t: 1;
      brand_id: string;
      kind: Kind;
      start: string;
      spent: string;
      lim: string | null;
      exhausted: boolean;
      amount: string;
      alerts: string | null;
    }
  | { t: 2; brand_id: string; kind: Kind; start: string; spent: string; lim: string | null }
  | { t: 3; brand_id: string; start: string; spent: string; lim: string; campaign_id: string }
  | { t: 5; brand_id: string; spent: string; lim: string; campaign_id: string };

const DAY = PeriodKind.DAY;
const MONTH = PeriodKind.MONTH;

/**
 * The ledger work of a batch as ONE statement (data-modifying CTEs), so a transaction is three
 * round trips (begin, this, commit) instead of five; on this machine a round trip costs the
 * service ~30 µs of CPU (the socket write wakes PostgreSQL), which unary calls pay in batches of
 * ~20: a tenth of RecordSpend's CPU went to round trips.
 *
 * - `inserted`: the facts, keyed (brand, event id); a retry inserts nothing. A fact whose local
 *   day lies outside the campaign's flight (campaign_settings) is flagged `outside_flight`.
 * - `added`: what was really inserted is added to the running totals per (brand, kind, period),
 *   taking row locks in a fixed order (brand, kind, start) so that concurrent batches cannot
 *   deadlock; a period row created here takes the budget's limit, read under a share lock of
 *   the budget row, so a concurrent SetBudget is either seen or waits. A period whose end has
 *   passed (late spend) takes the limit that was in force when it ended (budget_changes): a limit
 *   never changes on an ended period, and the budget's current one never applied to it.
 * - `campaign_added`: the same per (brand, campaign, local day): each campaign's day total
 *   (GetCampaignSpend), exact with the ledger, judged against the cap the ROW carries
 *   (`cap_crossed`: the row was not at its cap and is now). The cap consumer (campaign-caps.ts)
 *   writes the cap into every row of a day not yet ended under the row's lock, creating today's
 *   and tomorrow's, so an existing row's cap is current when this statement locks it; a row
 *   created here (a first spend of the day that no cap change has met) takes the campaign's cap
 *   from campaign_settings as of this statement, or none for a day that has ended. The spend
 *   never writes a row's cap: it used to write back the cap it had read before waiting for the
 *   row, undoing a raise committed meanwhile (a campaign paused at 6 of a 10 cap all day).
 * - `lifetime_added`: the same per (brand, campaign) over the campaign's life, judged against the
 *   lifetime limit the ROW carries (`crossed`), which only the cap consumer writes, creating the
 *   row when it sets a limit: a row created here takes the limit of campaign_settings.
 * - `current`: each brand's current day and month. Its snapshot is the statement's, which does
 *   not see `added`'s own changes: those rows are taken from `added` (applyCurrent).
 *
 * Lock order (the ledger's, every writer): the budget rows (shared here, all of the batch's brands
 * first, `locked_budgets`), then period rows in key order, then campaign day rows in key order,
 * then campaign lifetime rows in key order.
 *
 * Times go as epoch milliseconds (float8: exact to the microsecond for our range), the batch's
 * recording time once. Money comes back as text (no float on a money path).
 */
export async function applySpend(
  client: pg.ClientBase,
  rows: SpendRows,
  zones: Map<string, string>,
  recordedAt: Date,
): Promise<Applied> {
  const { unique } = rows;
  const current: { brandId: string; kind: Kind; start: string }[] = [];
  for (const [brandId, zone] of zones) {
    const p = periodsOf(recordedAt.getTime(), zone);
    current.push(
      { brandId, kind: DAY, start: formatDate(p.day) },
      { brandId, kind: MONTH, start: formatDate(p.month) },
    );
  }
  const result = await client.query<StatementRow>({
    name: "spend-apply",
    text: `with input as (
             select * from unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::float8[], $6::date[], $7::date[], $8::bool[],
                                  $13::float8[], $14::float8[], $15::text[])
                      with ordinality as u(event_id, brand_id, campaign_id, amount, occurred_ms, day, month, archived, day_end_ms, month_end_ms,
                                           reported_by, i)
           ), inserted as (
             insert into spend_events (event_id, brand_id, campaign_id, amount_micros, occurred_at, recorded_at, day, month, brand_archived,
                                       outside_flight, reported_by)
             select i.event_id, i.brand_id, i.campaign_id, i.amount, to_timestamp(i.occurred_ms / 1000), $9, i.day, i.month, i.archived,
                    coalesce(i.day < f.start_date or i.day > f.end_date, false), i.reported_by
             from input i left join campaign_settings f on f.campaign_id = i.campaign_id and f.brand_id = i.brand_id
             on conflict (brand_id, event_id) do nothing
             returning brand_id, event_id, campaign_id, amount_micros, day, month, outside_flight
           ), locked_budgets as (
             -- The budget rows of the batch's brands, shared, in brand order, before any period row
             -- ('added' waits for this): the lock order of the ledger, whether or not a period
             -- takes the budget's limit (an ended one does not).
             select brand_id from budgets where brand_id = any($2::uuid[]) order by brand_id for share
           ), sums as (
             select n.brand_id, k.kind, k.start, max(k.end_ms) as end_ms, sum(n.amount_micros) as amount, count(*) as cnt
             from inserted n join input i on i.brand_id = n.brand_id and i.event_id = n.event_id
             cross join lateral (values (${DAY}::int2, n.day, i.day_end_ms), (${MONTH}::int2, n.month, i.month_end_ms)) as k(kind, start, end_ms)
             group by n.brand_id, k.kind, k.start
           ), added as (
             insert into budget_periods as p (brand_id, kind, period_start, spent_micros, event_count, limit_micros, updated_at)
             select s.brand_id, s.kind, s.start, s.amount, s.cnt,
                    case when to_timestamp(s.end_ms / 1000) > $9 then
                      (select case s.kind when ${DAY} then b.daily_limit_micros else b.monthly_limit_micros end
                       from budgets b where b.brand_id = s.brand_id for share)
                    else
                      (select case s.kind when ${DAY} then c.new_daily_limit_micros else c.new_monthly_limit_micros end
                       from budget_changes c where c.brand_id = s.brand_id and c.changed_at < to_timestamp(s.end_ms / 1000)
                       order by c.changed_at desc, c.id desc limit 1)
                    end, $9
             from sums s
             where (select count(*) from locked_budgets) >= 0
             order by s.brand_id, s.kind, s.start
             on conflict (brand_id, kind, period_start) do update
               set spent_micros = p.spent_micros + excluded.spent_micros,
                   event_count = p.event_count + excluded.event_count,
                   updated_at = excluded.updated_at
             returning brand_id, kind, period_start, spent_micros, limit_micros, exhausted
           ), caps as (
             select k.campaign_id, k.daily_limit_micros as lim from campaign_settings k
             where k.campaign_id = any($3::uuid[]) and k.daily_limit_micros is not null
           ), campaign_added as (
             -- Each campaign's day total, after the period rows (the scalar subquery drains
             -- 'added' first), in key order: concurrent batches take the same locks in the same order.
             -- SET expressions read the row as it was: cap_crossed is "not at the cap before, at it now",
             -- against the cap the row carries (written by the cap consumer, never here).
             insert into campaign_day_spend as c (brand_id, campaign_id, day, spent_micros, event_count, limit_micros, cap_exhausted, cap_crossed)
             select d.brand_id, d.campaign_id, d.day, d.amount, d.cnt, d.lim, coalesce(d.amount >= d.lim, false), coalesce(d.amount >= d.lim, false)
             from (
               select n.brand_id, n.campaign_id, n.day, sum(n.amount_micros) as amount, count(*) as cnt,
                      case when n.day >= t.period_start then k.lim end as lim
               from inserted n
               left join caps k on k.campaign_id = n.campaign_id
               left join unnest($10::uuid[], $11::int2[], $12::date[]) as t(brand_id, kind, period_start)
                 on t.brand_id = n.brand_id and t.kind = ${DAY}
               where (select count(*) from added) >= 0
               group by n.brand_id, n.campaign_id, n.day, k.lim, t.period_start
             ) d
             order by d.brand_id, d.campaign_id, d.day
             on conflict (brand_id, campaign_id, day) do update
               set spent_micros = c.spent_micros + excluded.spent_micros, event_count = c.event_count + excluded.event_count,
                   cap_exhausted = c.cap_exhausted or coalesce(c.spent_micros + excluded.spent_micros >= c.limit_micros, false),
                   cap_crossed = not c.cap_exhausted and coalesce(c.spent_micros + excluded.spent_micros >= c.limit_micros, false)
             returning brand_id, campaign_id, day, spent_micros, limit_micros, cap_crossed
           ), lifetime_added as (
             -- Each campaign's total over its life, after its day rows (the scalar subquery drains
             -- 'campaign_added' first), in key order; 'crossed' as cap_crossed above.
             insert into campaign_lifetime_spend as l (brand_id, campaign_id, spent_micros, event_count, limit_micros, exhausted, crossed)
             select d.brand_id, d.campaign_id, d.amount, d.cnt, d.lim, coalesce(d.amount >= d.lim, false), coalesce(d.amount >= d.lim, false)
             from (
               select n.brand_id, n.campaign_id, sum(n.amount_micros) as amount, count(*) as cnt, k.lifetime_limit_micros as lim
               from inserted n
               left join campaign_settings k on k.campaign_id = n.campaign_id and k.brand_id = n.brand_id
               where (select count(*) from campaign_added) >= 0
               group by n.brand_id, n.campaign_id, k.lifetime_limit_micros
             ) d
             order by d.brand_id, d.campaign_id
             on conflict (brand_id, campaign_id) do update
               set spent_micros = l.spent_micros + excluded.spent_micros, event_count = l.event_count + excluded.event_count,
                   exhausted = l.exhausted or coalesce(l.spent_micros + excluded.spent_micros >= l.limit_micros, false),
                   crossed = not l.exhausted and coalesce(l.spent_micros + excluded.spent_micros >= l.limit_micros, false)
             returning brand_id, campaign_id, spent_micros, limit_micros, crossed
           ), current as (
             select c.brand_id, c.kind, c.period_start, coalesce(p.spent_micros, 0) as spent,
                    case when p.brand_id is not null then p.limit_micros
                         when c.kind = ${DAY} then b.daily_limit_micros else b.monthly_limit_micros end as lim
             from unnest($10::uuid[], $11::int2[], $12::date[]) as c(brand_id, kind, period_start)
             left join budget_periods p on p.brand_id = c.brand_id and p.kind = c.kind and p.period_start = c.period_start
             left join budgets b on b.brand_id = c.brand_id
           )
           select 0 as t, (i - 1)::int as i, null as brand_id, null::int2 as kind, null as start, null as spent, null as lim, null::bool as exhausted,
                  null as amount, null as alerts, null as campaign_id
           from input where not exists (select 1 from inserted n where n.brand_id = input.brand_id and n.event_id = input.event_id)
           union all
           select 1, null, a.brand_id::text, a.kind, a.period_start::text, a.spent_micros::text, a.limit_micros::text, a.exhausted,
                  s.amount::text, b.alert_percents::text, null
           from added a join sums s on s.brand_id = a.brand_id and s.kind = a.kind and s.start = a.period_start
           left join budgets b on b.brand_id = a.brand_id
           union all
           select 2, null, brand_id::text, kind, period_start::text, spent::text, lim::text, null, null, null, null from current
           union all
           select 3, null, brand_id::text, null, day::text, spent_micros::text, limit_micros::text, null, null, null, campaign_id::text
           from campaign_added where cap_crossed
           union all
           select 4, (input.i - 1)::int, null, null, null, null, null, null, null, null, null
           from input join inserted n on n.brand_id = input.brand_id and n.event_id = input.event_id where n.outside_flight
           union all
           select 5, null, brand_id::text, null, null, spent_micros::text, limit_micros::text, null, null, null, campaign_id::text
           from lifetime_added where crossed`,
    values: [
      unique.map((e) => e.eventId),
      unique.map((e) => e.brandId),
      unique.map((e) => e.campaignId),
      unique.map((e) => e.amount.toString()),
      unique.map((e) => e.occurredAtMs),
      rows.days,
      rows.months,
      unique.map((e) => e.brandArchived),
      recordedAt,
      current.map((c) => c.brandId),
      current.map((c) => c.kind),
      current.map((c) => c.start),
      rows.dayEnds,
      rows.monthEnds,
      unique.map((e) => e.reportedBy),
    ],
  });
  const skipped: number[] = [];
  const added: AddedPeriod[] = [];
  const byKey = new Map<string, CurrentPeriod>();
  const snapshot: { brandId: string; period: CurrentPeriod }[] = [];
  const capsReached: CapReached[] = [];
  const lifetimesReached: LifetimeReached[] = [];
  const outsideFlight = new Set<number>();
  for (const r of result.rows) {
    switch (r.t) {
      case 0:
        skipped.push(r.i);
        break;
      case 4:
        outsideFlight.add(r.i);
        break;
      case 3:
        capsReached.push({
          brandId: r.brand_id,
          campaignId: r.campaign_id,
          day: r.start,
          spent: BigInt(r.spent),
          limit: BigInt(r.lim),
        });
        break;
      case 5:
        lifetimesReached.push({
          brandId: r.brand_id,
          campaignId: r.campaign_id,
          spent: BigInt(r.spent),
          limit: BigInt(r.lim),
        });
        break;
      case 1: {
        const period: CurrentPeriod = { kind: r.kind, start: r.start, spent: BigInt(r.spent), limit: micros(r.lim) };
        added.push({
          ...period,
          brandId: r.brand_id,
          exhausted: r.exhausted,
          added: BigInt(r.amount),
          alertPercents: parsePercents(r.alerts),
        });
        byKey.set(`${r.brand_id}|${r.kind}|${r.start}`, period);
        break;
      }
      case 2:
        snapshot.push({
          brandId: r.brand_id,
          period: { kind: r.kind, start: r.start, spent: BigInt(r.spent), limit: micros(r.lim) },
        });
        break;
    }
  }
  const days = new Map<string, CurrentPeriod>();
  const months = new Map<string, CurrentPeriod>();
  for (const { brandId, period } of snapshot) {
    // A period this statement added to: its total after the batch, not the snapshot's.
    const p = byKey.get(`${brandId}|${period.kind}|${period.start}`) ?? period;
    (p.kind === DAY ? days : months).set(brandId, p);
  }
  const currentByBrand = new Map<string, { day: CurrentPeriod; month: CurrentPeriod }>();
  for (const [brandId, day] of days) {
    const month = months.get(brandId);
    if (month !== undefined) currentByBrand.set(brandId, { day, month });
  }
  return { skipped, added, current: currentByBrand, capsReached, lifetimesReached, outsideFlight };
}
