import type pg from "pg";
import { NotFoundError, uuidv7, writeOutbox, type OutboxMessage } from "@adbudget/kit";
import type { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import type { StoredSchedule } from "./schedule.js";
import { applySignal, sameState, servingState, type FlagSignal, type PeriodFlag, type ServingState } from "./serving-state.js";

export interface CampaignRow {
  id: string;
  brandId: string;
  name: string;
  enabled: boolean;
  schedule: StoredSchedule | null;
  inDaypart: boolean;
  daypartAsOf: Date | null;
  serving: boolean;
  reasons: PauseReason[];
  version: bigint;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
}

export interface BrandStateRow {
  brandId: string;
  archived: boolean;
  timeZone: string;
  brandVersion: bigint;
  day: PeriodFlag;
  month: PeriodFlag;
}

export interface StateChangeRow {
  id: string;
  campaignId: string;
  brandId: string;
  fromServing: boolean;
  toServing: boolean;
  fromReasons: PauseReason[];
  toReasons: PauseReason[];
  cause: string;
  sourceId: string;
  changedAt: Date;
}

/** What a transaction changed, for the outbox (and through it, watchers). */
export interface CampaignChange {
  campaign: CampaignRow;
  /** Set when serving or the reasons changed. */
  stateChange?: StateChangeRow;
  deleted?: boolean;
}

/** Why and by whom a change happens: recorded in the audit log. */
export interface Cause {
  cause: string;
  sourceId: string;
}

const CAMPAIGN_COLUMNS = `id::text, brand_id::text, name, enabled, schedule, in_daypart, daypart_as_of, serving,
  pause_reasons, version::text, created_at, updated_at, deleted_at`;

interface RawCampaign {
  id: string;
  brand_id: string;
  name: string;
  enabled: boolean;
  schedule: StoredSchedule | null;
  in_daypart: boolean;
  daypart_as_of: Date | null;
  serving: boolean;
  pause_reasons: number[];
  version: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

function toCampaign(r: RawCampaign): CampaignRow {
  return {
    id: r.id,
    brandId: r.brand_id,
    name: r.name,
    enabled: r.enabled,
    schedule: r.schedule,
    inDaypart: r.in_daypart,
    daypartAsOf: r.daypart_as_of,
    serving: r.serving,
    reasons: r.pause_reasons as PauseReason[],
    version: BigInt(r.version),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
  };
}

interface RawBrandState {
  brand_id: string;
  archived: boolean;
  time_zone: string;
  brand_version: string;
  day_period: string | null;
  day_exhausted: boolean;
  day_seq: string;
  month_period: string | null;
  month_exhausted: boolean;
  month_seq: string;
}

function toBrandState(r: RawBrandState): BrandStateRow {
  return {
    brandId: r.brand_id,
    archived: r.archived,
    timeZone: r.time_zone,
    brandVersion: BigInt(r.brand_version),
    day: { period: r.day_period, exhausted: r.day_exhausted, seq: BigInt(r.day_seq) },
    month: { period: r.month_period, exhausted: r.month_exhausted, seq: BigInt(r.month_seq) },
  };
}

/** The serving inputs of a campaign given its brand's state. */
export function stateOf(c: Pick<CampaignRow, "enabled" | "inDaypart">, b: BrandStateRow | undefined): ServingState {
  return servingState({
    enabled: c.enabled,
    inDaypart: c.inDaypart,
    dayExhausted: b?.day.exhausted ?? false,
    monthExhausted: b?.month.exhausted ?? false,
    brandArchived: b?.archived ?? false,
  });
}

/**
 * Persistence of campaigns. Every change runs in one transaction that locks the rows it reads,
 * recomputes serving states with the pure rule, writes one audit row per serving-state change
 * and the events to the outbox (through `publish`), so state, audit and events are one fact.
 */
export class CampaignStore {
  constructor(
    readonly pool: pg.Pool,
    private readonly publish: (changes: CampaignChange[], nowMs: number) => OutboxMessage[],
    private readonly channel: string,
  ) {}

  async tx<T>(fn: (client: pg.PoolClient) => Promise<{ result: T; changes: CampaignChange[] }>, nowMs: number): Promise<{ result: T; changes: CampaignChange[] }> {
    const client = await this.pool.connect();
    try {
      await client.query("begin");
      const out = await fn(client);
      await writeOutbox(client, this.channel, this.publish(out.changes, nowMs), nowMs);
      await client.query("commit");
      return out;
    } catch (err) {
      await client.query("rollback").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async brandState(client: pg.ClientBase, brandId: string, lock: boolean): Promise<BrandStateRow | undefined> {
    const { rows } = await client.query<RawBrandState>(
      `select brand_id::text, archived, time_zone, brand_version::text, day_period::text, day_exhausted, day_seq::text,
              month_period::text, month_exhausted, month_seq::text
       from brand_state where brand_id = $1 ${lock ? "for update" : ""}`,
      [brandId],
    );
    return rows[0] ? toBrandState(rows[0]) : undefined;
  }

  /** Creates or refreshes the brand's row (archived flag and zone) from BrandService data. */
  async upsertBrand(client: pg.ClientBase, brand: { id: string; archived: boolean; timeZone: string; version: bigint }, now: Date): Promise<BrandStateRow> {
    const { rows } = await client.query<RawBrandState>(
      `insert into brand_state (brand_id, archived, time_zone, brand_version, updated_at) values ($1, $2, $3, $4, $5)
       on conflict (brand_id) do update set archived = excluded.archived, time_zone = excluded.time_zone,
         brand_version = excluded.brand_version, updated_at = excluded.updated_at
         where brand_state.brand_version < excluded.brand_version
       returning brand_id::text, archived, time_zone, brand_version::text, day_period::text, day_exhausted, day_seq::text,
                 month_period::text, month_exhausted, month_seq::text`,
      [brand.id, brand.archived, brand.timeZone, brand.version.toString(), now],
    );
    return rows[0] ? toBrandState(rows[0]) : (await this.brandState(client, brand.id, true))!;
  }

  async get(client: pg.ClientBase | pg.Pool, id: string, lock: boolean): Promise<CampaignRow> {
    const { rows } = await client.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns where id = $1 and deleted_at is null ${lock ? "for update" : ""}`,
      [id],
    );
    if (!rows[0]) throw new NotFoundError("campaign", id);
    return toCampaign(rows[0]);
  }

  async getById(id: string): Promise<CampaignRow> {
    return this.get(this.pool, id, false);
  }

  async insert(client: pg.ClientBase, c: CampaignRow, cause: Cause): Promise<CampaignChange> {
    await client.query(
      `insert into campaigns (id, brand_id, name, enabled, schedule, in_daypart, daypart_as_of, serving, pause_reasons,
                              version, created_at, updated_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)`,
      [c.id, c.brandId, c.name, c.enabled, c.schedule === null ? null : JSON.stringify(c.schedule), c.inDaypart, c.daypartAsOf,
        c.serving, c.reasons, c.version.toString(), c.createdAt],
    );
    const stateChange = await this.audit(client, c, { serving: false, reasons: [] }, { serving: c.serving, reasons: c.reasons }, cause, c.createdAt);
    return { campaign: c, stateChange };
  }

  /**
   * Saves a campaign whose fields changed (settings, intent, daypart), recomputing its state.
   * Records an audit row when serving or the reasons changed.
   */
  async save(client: pg.ClientBase, before: CampaignRow, after: CampaignRow, brand: BrandStateRow | undefined, cause: Cause, now: Date): Promise<CampaignChange> {
    const next = stateOf(after, brand);
    const row: CampaignRow = { ...after, serving: next.serving, reasons: next.reasons, version: before.version + 1n, updatedAt: now };
    await client.query(
      `update campaigns set name = $2, enabled = $3, schedule = $4, in_daypart = $5, daypart_as_of = $6, serving = $7,
              pause_reasons = $8, version = $9, updated_at = $10
       where id = $1`,
      [row.id, row.name, row.enabled, row.schedule === null ? null : JSON.stringify(row.schedule), row.inDaypart, row.daypartAsOf,
        row.serving, row.reasons, row.version.toString(), now],
    );
    const prev = { serving: before.serving, reasons: before.reasons };
    const stateChange = sameState(prev, next) ? undefined : await this.audit(client, row, prev, next, cause, now);
    return { campaign: row, stateChange };
  }

  async delete(client: pg.ClientBase, c: CampaignRow, cause: Cause, now: Date): Promise<CampaignChange> {
    await client.query("update campaigns set deleted_at = $2, serving = false, version = version + 1, updated_at = $2 where id = $1", [c.id, now]);
    const row = { ...c, serving: false, deletedAt: now, version: c.version + 1n, updatedAt: now };
    const stateChange = c.serving
      ? await this.audit(client, row, { serving: c.serving, reasons: c.reasons }, { serving: false, reasons: c.reasons }, cause, now)
      : undefined;
    return { campaign: row, stateChange, deleted: true };
  }

  /**
   * Applies budget signals to a brand's flags and recomputes every campaign of the brand.
   * Idempotent and order-insensitive (applySignal); a brand never seen gets a row.
   */
  async applyBudgetSignal(client: pg.ClientBase, brandId: string, kind: 1 | 2, signal: FlagSignal, cause: Cause, now: Date): Promise<CampaignChange[]> {
    await client.query(
      "insert into brand_state (brand_id, updated_at) values ($1, $2) on conflict (brand_id) do nothing",
      [brandId, now],
    );
    const brand = (await this.brandState(client, brandId, true))!;
    const flag = kind === 1 ? brand.day : brand.month;
    const next = applySignal(flag, signal);
    if (next === flag) return [];
    const col = kind === 1 ? "day" : "month";
    await client.query(
      `update brand_state set ${col}_period = $2, ${col}_exhausted = $3, ${col}_seq = $4, updated_at = $5 where brand_id = $1`,
      [brandId, next.period, next.exhausted, next.seq.toString(), now],
    );
    const updated = { ...brand, [kind === 1 ? "day" : "month"]: next };
    return this.recomputeBrand(client, updated, cause, now);
  }

  /** Brand archived / zone changed: store it and recompute the brand's campaigns. */
  async applyBrand(client: pg.ClientBase, brand: { id: string; archived: boolean; timeZone: string; version: bigint }, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const before = await this.brandState(client, brand.id, true);
    if (before !== undefined && before.brandVersion >= brand.version) return [];
    const state = await this.upsertBrand(client, brand, now);
    return this.recomputeBrand(client, state, cause, now);
  }

  async recomputeBrand(client: pg.ClientBase, brand: BrandStateRow, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const { rows } = await client.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns where brand_id = $1 and deleted_at is null order by id for update`,
      [brand.brandId],
    );
    const changes: CampaignChange[] = [];
    for (const c of rows.map(toCampaign)) {
      const next = stateOf(c, brand);
      if (sameState({ serving: c.serving, reasons: c.reasons }, next)) continue;
      changes.push(await this.save(client, c, c, brand, cause, now));
    }
    return changes;
  }

  private async audit(client: pg.ClientBase, c: CampaignRow, from: ServingState, to: ServingState, cause: Cause, now: Date): Promise<StateChangeRow> {
    const row: StateChangeRow = {
      id: uuidv7(now.getTime()),
      campaignId: c.id,
      brandId: c.brandId,
      fromServing: from.serving,
      toServing: to.serving,
      fromReasons: from.reasons,
      toReasons: to.reasons,
      cause: cause.cause,
      sourceId: cause.sourceId,
      changedAt: now,
    };
    await client.query(
      `insert into state_changes (id, campaign_id, brand_id, from_serving, to_serving, from_reasons, to_reasons, cause, source_id, changed_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [row.id, row.campaignId, row.brandId, row.fromServing, row.toServing, row.fromReasons, row.toReasons, row.cause, row.sourceId, now],
    );
    return row;
  }

  async list(filter: { brandId: string; serving?: boolean; after?: string; limit: number }): Promise<CampaignRow[]> {
    const { rows } = await this.pool.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns
       where deleted_at is null and ($1::uuid is null or brand_id = $1) and ($2::boolean is null or serving = $2)
         and ($3::uuid is null or id > $3)
       order by id limit $4`,
      [filter.brandId || null, filter.serving ?? null, filter.after ?? null, filter.limit],
    );
    return rows.map(toCampaign);
  }

  async listChanges(filter: { campaignId: string; brandId: string; before?: string; limit: number }): Promise<StateChangeRow[]> {
    const { rows } = await this.pool.query<{
      id: string; campaign_id: string; brand_id: string; from_serving: boolean; to_serving: boolean;
      from_reasons: number[]; to_reasons: number[]; cause: string; source_id: string; changed_at: Date;
    }>(
      `select id::text, campaign_id::text, brand_id::text, from_serving, to_serving, from_reasons, to_reasons, cause, source_id, changed_at
       from state_changes
       where ($1::uuid is null or campaign_id = $1) and ($2::uuid is null or brand_id = $2) and ($3::uuid is null or id < $3)
       order by id desc limit $4`,
      [filter.campaignId || null, filter.brandId || null, filter.before ?? null, filter.limit],
    );
    return rows.map((r) => ({
      id: r.id,
      campaignId: r.campaign_id,
      brandId: r.brand_id,
      fromServing: r.from_serving,
      toServing: r.to_serving,
      fromReasons: r.from_reasons as PauseReason[],
      toReasons: r.to_reasons as PauseReason[],
      cause: r.cause,
      sourceId: r.source_id,
      changedAt: r.changed_at,
    }));
  }

  /** Every live campaign (optionally of one brand), for the Watch snapshot, in id order. */
  async snapshot(brandId: string, after: string | undefined, limit: number): Promise<CampaignRow[]> {
    return this.list({ brandId, after, limit });
  }
}

