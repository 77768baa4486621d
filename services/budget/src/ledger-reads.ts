import type pg from "pg";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, periodsOf } from "@adbudget/time";
import { micros, type PeriodFigures } from "./period-rules.js";

/** Day or month: the kinds of budget periods, stored as smallint 1 and 2 (the enum's values). */
export type Kind = PeriodKind.DAY | PeriodKind.MONTH;

/** A ledger row as stored. */
export interface StoredSpend {
  eventId: string;
  brandId: string;
  campaignId: string;
  amount: bigint;
  occurredAt: Date;
  recordedAt: Date;
  day: string;
  month: string;
  brandArchived: boolean;
  outsideFlight: boolean;
  /** The reporting caller's `sub` ("" when unknown). */
  reportedBy: string;
}

/** One of a brand's current periods, with the limit in force. */
export interface CurrentPeriod extends PeriodFigures {
  kind: Kind;
  /** "YYYY-MM-DD" */
  start: string;
}

export interface RawSpend {
  event_id: string;
  brand_id: string;
  campaign_id: string;
  amount: string;
  occurred_at: Date;
  recorded_at: Date;
  day: string;
  month: string;
  brand_archived: boolean;
  outside_flight: boolean;
  reported_by: string;
}

/** Money is selected as text and parsed with BigInt: no float on a money path. */
export const SELECT_SPEND = `select event_id, brand_id::text, campaign_id::text, amount_micros::text as amount, occurred_at,
  recorded_at, day::text, month::text, brand_archived, outside_flight, reported_by from spend_events`;

export function toStoredSpend(r: RawSpend): StoredSpend {
  return {
    eventId: r.event_id,
    brandId: r.brand_id,
    campaignId: r.campaign_id,
    amount: BigInt(r.amount),
    occurredAt: r.occurred_at,
    recordedAt: r.recorded_at,
    day: r.day,
    month: r.month,
    brandArchived: r.brand_archived,
    outsideFlight: r.outside_flight,
    reportedBy: r.reported_by,
  };
}

/** Stored events by (brand, event id): the originals that retries are compared with. */
export async function findSpend(
  client: pg.ClientBase | pg.Pool,
  keys: { brandId: string; eventId: string }[],
): Promise<Map<string, StoredSpend>> {
  const out = new Map<string, StoredSpend>();
  if (keys.length === 0) return out;
  const { rows } = await client.query<RawSpend>({
    name: "spend-find",
    text: `${SELECT_SPEND} where (brand_id, event_id) in (select * from unnest($1::uuid[], $2::text[]))`,
    values: [keys.map((k) => k.brandId), keys.map((k) => k.eventId)],
  });
  for (const r of rows) out.set(spendKey(r.brand_id, r.event_id), toStoredSpend(r));
  return out;
}

/** Event ids are unique per brand: this is the identity of a ledger row. */
export function spendKey(brandId: string, eventId: string): string {
  return `${brandId}\u0000${eventId}`;
}

/**
 * The current local day and month of each brand (zone given), with spent and the limit in
 * force. A period without a row yet has spent 0 and the budget's limit.
 */
export async function currentPeriods(
  client: pg.ClientBase,
  zones: Map<string, string>,
  nowMs: number,
): Promise<Map<string, { day: CurrentPeriod; month: CurrentPeriod }>> {
  const keys: { brandId: string; kind: Kind; start: string }[] = [];
  for (const [brandId, zone] of zones) {
    const p = periodsOf(nowMs, zone);
    keys.push(
      { brandId, kind: PeriodKind.DAY, start: formatDate(p.day) },
      { brandId, kind: PeriodKind.MONTH, start: formatDate(p.month) },
    );
  }
  const { rows } = await client.query<{
    brand_id: string;
    kind: Kind;
    start: string;
    spent: string;
    lim: string | null;
  }>({
    name: "periods-current",
    text: `select u.brand_id::text, u.kind, u.period_start::text as start, coalesce(p.spent_micros, 0)::text as spent,
                  (case when p.brand_id is not null then p.limit_micros
                        when u.kind = ${PeriodKind.DAY} then b.daily_limit_micros else b.monthly_limit_micros end)::text as lim
           from unnest($1::uuid[], $2::int2[], $3::date[]) as u(brand_id, kind, period_start)
           left join budget_periods p on p.brand_id = u.brand_id and p.kind = u.kind and p.period_start = u.period_start
           left join budgets b on b.brand_id = u.brand_id`,
    values: [keys.map((k) => k.brandId), keys.map((k) => k.kind), keys.map((k) => k.start)],
  });
  const days = new Map<string, CurrentPeriod>();
  const months = new Map<string, CurrentPeriod>();
  for (const r of rows) {
    const period: CurrentPeriod = { kind: r.kind, start: r.start, spent: BigInt(r.spent), limit: micros(r.lim) };
    (r.kind === PeriodKind.DAY ? days : months).set(r.brand_id, period);
  }
  const out = new Map<string, { day: CurrentPeriod; month: CurrentPeriod }>();
  for (const [brandId, day] of days) {
    const month = months.get(brandId);
    if (month !== undefined) out.set(brandId, { day, month });
  }
  return out;
}

/** One brand's current day and month (see currentPeriods): every brand asked for has both rows. */
export async function brandCurrentPeriods(
  client: pg.ClientBase,
  brandId: string,
  zone: string,
  nowMs: number,
): Promise<{ day: CurrentPeriod; month: CurrentPeriod }> {
  const periods = (await currentPeriods(client, new Map([[brandId, zone]]), nowMs)).get(brandId);
  if (periods === undefined) throw new Error(`the current periods of brand ${brandId} were not read`);
  return periods;
}
