import type pg from "pg";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, periodsOf } from "@adbudget/time";
import {
  CLOCK_SKEW_MS,
  exhaustedNow,
  retainedFrom,
  type FlagState,
  type PeriodFlag,
  type PeriodKindName,
} from "./budget-flags.js";
import {
  SELECT_BRAND_STATE,
  toBrandState,
  type BrandStateRow,
  type Kind,
  type RawBrandState,
} from "./campaign-rows.js";
import { lockBrand } from "./lock-order.js";

/*
 * What the campaign service holds of each brand: its `brand_state` row (archived, zone, version,
 * current day and month) and its budget flags per period (budget-flags.ts). Written only under
 * the brand's FOR UPDATE lock (lock-order.ts).
 */

/** The brand as BrandService publishes it (a brand event, a CreateCampaign's read, reconciliation). */
export interface BrandFacts {
  id: string;
  archived: boolean;
  timeZone: string;
  version: bigint;
}

/** The brand's state with its current flags, read without a lock; undefined if it has no row. */
export async function brandState(client: pg.ClientBase, brandId: string): Promise<BrandStateRow | undefined> {
  const { rows } = await client.query<RawBrandState>(`${SELECT_BRAND_STATE} where s.brand_id = $1`, [brandId]);
  return rows[0] ? toBrandState(rows[0]) : undefined;
}

/**
 * The brand's state, its row locked FOR UPDATE FIRST, in a statement of its own, and read in
 * the next one: a statement that waits for a row lock sees that row's new version but the OTHER
 * tables as of its start (READ COMMITTED), so a join read under the lock would miss the budget
 * flags the transaction it waited for committed (a day and a month exhaustion applied at once
 * then lost one of the two reasons).
 */
export async function lockedBrandState(client: pg.ClientBase, brandId: string): Promise<BrandStateRow | undefined> {
  await lockBrand(client, brandId);
  return brandState(client, brandId);
}

/** The states of several brands at once (no locks), by brand id. */
export async function brandStates(client: pg.ClientBase, brandIds: string[]): Promise<Map<string, BrandStateRow>> {
  const { rows } = await client.query<RawBrandState>(`${SELECT_BRAND_STATE} where s.brand_id = any($1::uuid[])`, [
    brandIds,
  ]);
  return new Map(rows.map((r) => [r.brand_id, toBrandState(r)]));
}

/** The brand's row, created if missing, locked FOR UPDATE (a brand-wide write), then read. */
export async function lockedBrand(client: pg.ClientBase, brandId: string, now: Date): Promise<BrandStateRow> {
  const sql = "insert into brand_state (brand_id, updated_at) values ($1, $2) on conflict (brand_id) do nothing";
  await client.query(sql, [brandId, now]);
  const brand = await lockedBrandState(client, brandId);
  if (brand === undefined) throw new Error(`brand_state row of ${brandId} vanished under its lock`);
  return brand;
}

/** The brand of a live campaign, read without a lock (a campaign never changes brand); undefined if none. */
export async function brandOf(client: pg.ClientBase, campaignId: string): Promise<string | undefined> {
  const sql = "select brand_id::text from campaigns where id = $1 and deleted_at is null";
  const { rows } = await client.query<{ brand_id: string }>(sql, [campaignId]);
  return rows[0]?.brand_id;
}

/** Brands of live campaigns, read without locks, for the brand locks that must come first. */
export async function brandsOf(client: pg.ClientBase, campaignIds: string[]): Promise<string[]> {
  const sql = "select distinct brand_id::text from campaigns where id = any($1::uuid[]) and deleted_at is null";
  const { rows } = await client.query<{ brand_id: string }>(sql, [campaignIds]);
  return rows.map((r) => r.brand_id);
}

/**
 * Creates or refreshes the brand's row (archived flag and zone) from BrandService data: only a
 * newer version is written, unless `force` (reconciliation repairing a row that drifted).
 */
export async function upsertBrand(
  client: pg.ClientBase,
  brand: BrandFacts,
  now: Date,
  force = false,
): Promise<BrandStateRow> {
  await client.query(
    `insert into brand_state (brand_id, archived, time_zone, brand_version, updated_at) values ($1, $2, $3, $4, $5)
     on conflict (brand_id) do update set archived = excluded.archived, time_zone = excluded.time_zone,
       brand_version = excluded.brand_version, updated_at = excluded.updated_at
       where $6 or brand_state.brand_version < excluded.brand_version`,
    [brand.id, brand.archived, brand.timeZone, brand.version.toString(), now, force],
  );
  const state = await lockedBrandState(client, brand.id);
  if (state === undefined) throw new Error(`brand_state row of ${brand.id} missing after its upsert`);
  return state;
}

/** One step of a kind's flags: from what is stored, given the brand's local today and the day a few minutes ahead. */
export type FlagStep = (before: FlagState, today: string, latest: string) => FlagState;

/**
 * One kind's flags through `step` (under the brand's FOR UPDATE lock), stored; answers the
 * brand's state after it and whether its campaigns must be recomputed (the current period's
 * exhaustion changed, or a new current day, which also ends the old day's campaign caps).
 */
export async function moveFlags(
  client: pg.ClientBase,
  brand: BrandStateRow,
  kind: Kind,
  step: FlagStep,
  now: Date,
): Promise<{ brand: BrandStateRow; recompute: boolean }> {
  const { rows } = await client.query<{ period: string; exhausted: boolean; seq: string }>(
    "select period_start::text as period, exhausted, seq::text from budget_flags where brand_id = $1 and kind = $2",
    [brand.brandId, kind],
  );
  const before: FlagState = {
    current: kind === PeriodKind.DAY ? brand.dayPeriod : brand.monthPeriod,
    flags: new Map(rows.map((r) => [r.period, { exhausted: r.exhausted, seq: BigInt(r.seq) }])),
  };
  const periods = periodsOf(now.getTime(), brand.timeZone);
  const ahead = periodsOf(now.getTime() + CLOCK_SKEW_MS, brand.timeZone);
  const pick = (p: typeof periods) => formatDate(kind === PeriodKind.DAY ? p.day : p.month);
  const after = step(before, pick(periods), pick(ahead));
  if (after === before) return { brand, recompute: false };
  await saveFlags(client, brand.brandId, kind, before, after, now);
  const exhausted = exhaustedNow(after);
  const updated: BrandStateRow =
    kind === PeriodKind.DAY
      ? { ...brand, dayPeriod: after.current, dayExhausted: exhausted }
      : { ...brand, monthPeriod: after.current, monthExhausted: exhausted };
  const newDay = kind === PeriodKind.DAY && after.current !== before.current;
  return { brand: updated, recompute: exhausted !== exhaustedNow(before) || newDay };
}

async function saveFlags(
  client: pg.ClientBase,
  brandId: string,
  kind: Kind,
  before: FlagState,
  after: FlagState,
  now: Date,
) {
  const changed = [...after.flags].filter(([p, f]) => !sameFlag(before.flags.get(p), f));
  if (changed.length > 0) {
    await client.query(
      `insert into budget_flags (brand_id, kind, period_start, exhausted, seq)
       select $1, $2, * from unnest($3::date[], $4::bool[], $5::bigint[])
       on conflict (brand_id, kind, period_start) do update set exhausted = excluded.exhausted, seq = excluded.seq`,
      [
        brandId,
        kind,
        changed.map(([p]) => p),
        changed.map(([, f]) => f.exhausted),
        changed.map(([, f]) => f.seq.toString()),
      ],
    );
  }
  const dropped = [...before.flags.keys()].filter((p) => !after.flags.has(p));
  if (dropped.length > 0) {
    const sql = "delete from budget_flags where brand_id = $1 and kind = $2 and period_start = any($3::date[])";
    await client.query(sql, [brandId, kind, dropped]);
  }
  if (after.current !== before.current) {
    const col = kind === PeriodKind.DAY ? "day_period" : "month_period";
    await client.query(`update brand_state set ${col} = $2, updated_at = $3 where brand_id = $1`, [
      brandId,
      after.current,
      now,
    ]);
  }
}

export function kindName(kind: Kind): PeriodKindName {
  return kind === PeriodKind.DAY ? "day" : "month";
}

/** The oldest day whose cap flags are kept (as for the budget flags: the brand's day may move back with its zone). */
export function capFloorOf(brand: BrandStateRow): string | null {
  return brand.dayPeriod === null ? null : retainedFrom("day", brand.dayPeriod);
}

function sameFlag(a: PeriodFlag | undefined, b: PeriodFlag): boolean {
  return a !== undefined && a.exhausted === b.exhausted && a.seq === b.seq;
}
