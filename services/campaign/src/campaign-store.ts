import type pg from "pg";
import { inTransaction, NotFoundError, writeOutbox, type OutboxMessage } from "@adbudget/kit";
import type { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, isInside, periodsOf } from "@adbudget/time";
import { applyBudgetSignal, exhaustedNow, type BudgetSignal, type FlagState, type PeriodFlag } from "./budget-flags.js";
import { applyCapSignal } from "./cap-flags.js";
import {
  auditRow,
  CAMPAIGN_COLUMNS,
  SELECT_BRAND_STATE,
  stateOf,
  toBrandState,
  toCampaign,
  type BrandStateRow,
  type CampaignChange,
  type CampaignRow,
  type Cause,
  type Kind,
  type RawBrandState,
  type RawCampaign,
  type StateChangeRow,
} from "./campaign-rows.js";
import { flightAt, hasFlight } from "./flight.js";
import { nextChangeOf, sameDaypartBasis } from "./next-change.js";
import { sameState, type ServingState } from "./serving-state.js";

export { auditRow, stateOf, type BrandStateRow, type CampaignChange, type CampaignRow, type Cause, type Kind, type StateChangeRow } from "./campaign-rows.js";

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
    return inTransaction(this.pool, async (client) => {
      const out = await fn(client);
      await writeOutbox(client, this.channel, this.publish(out.changes, nowMs), nowMs);
      return out;
    });
  }

  /**
   * The brand's state with its current flags. With `lock`, the brand's row is locked FIRST, in a
   * statement of its own, and read in the next one: a statement that waits for a row lock sees
   * that row's new version but the OTHER tables as of its start (READ COMMITTED), so a join
   * read under the lock would miss the budget flags the transaction it waited for committed (a
   * day and a month exhaustion applied at once then lost one of the two reasons).
   */
  async brandState(client: pg.ClientBase, brandId: string, lock: boolean): Promise<BrandStateRow | undefined> {
    if (lock) await client.query("select 1 from brand_state where brand_id = $1 for update", [brandId]);
    const { rows } = await client.query<RawBrandState>(
      `${SELECT_BRAND_STATE} where s.brand_id = $1`,
      [brandId],
    );
    return rows[0] ? toBrandState(rows[0]) : undefined;
  }

  /** The states of several brands at once (no locks, as brandState(…, false)), by brand id. */
  async brandStates(client: pg.ClientBase, brandIds: string[]): Promise<Map<string, BrandStateRow>> {
    const { rows } = await client.query<RawBrandState>(
      `${SELECT_BRAND_STATE} where s.brand_id = any($1::uuid[])`,
      [brandIds],
    );
    return new Map(rows.map((r) => [r.brand_id, toBrandState(r)]));
  }

  /** Creates or refreshes the brand's row (archived flag and zone) from BrandService data. */
  async upsertBrand(client: pg.ClientBase, brand: { id: string; archived: boolean; timeZone: string; version: bigint }, now: Date): Promise<BrandStateRow> {
    await client.query(
      `insert into brand_state (brand_id, archived, time_zone, brand_version, updated_at) values ($1, $2, $3, $4, $5)
       on conflict (brand_id) do update set archived = excluded.archived, time_zone = excluded.time_zone,
         brand_version = excluded.brand_version, updated_at = excluded.updated_at
         where brand_state.brand_version < excluded.brand_version`,
      [brand.id, brand.archived, brand.timeZone, brand.version.toString(), now],
    );
    return (await this.brandState(client, brand.id, true))!;
  }

  async get(client: pg.ClientBase | pg.Pool, id: string, lock: boolean): Promise<CampaignRow> {
    const { rows } = await client.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns where id = $1 and deleted_at is null ${lock ? "for update" : ""}`,
      [id],
    );
    if (!rows[0]) throw new NotFoundError("campaign", id);
    return toCampaign(rows[0]);
  }

  /** Several live campaigns, locked in id order (the order every multi-row lock here takes), by id. */
  async lockMany(client: pg.ClientBase, ids: string[]): Promise<Map<string, CampaignRow>> {
    const { rows } = await client.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns where id = any($1::uuid[]) and deleted_at is null order by id for update`,
      [ids],
    );
    return new Map(rows.map((r) => [r.id, toCampaign(r)]));
  }

  /**
   * Writes the serving and daypart fields of several campaigns in one statement (their rows are
   * locked by the caller). Reasons travel as array literals: unnest would flatten an int[][].
   */
  async writeStates(client: pg.ClientBase, rows: CampaignRow[]): Promise<void> {
    if (rows.length === 0) return;
    await client.query(
      `update campaigns c set in_daypart = u.in_daypart, daypart_as_of = u.as_of, next_change_at = u.next_change_at,
              serving = u.serving, pause_reasons = u.reasons::smallint[], version = u.version, updated_at = u.updated_at, flight = u.flight
       from unnest($1::uuid[], $2::bool[], $3::timestamptz[], $4::timestamptz[], $5::bool[], $6::text[], $7::bigint[], $8::timestamptz[], $9::int2[])
         as u(id, in_daypart, as_of, next_change_at, serving, reasons, version, updated_at, flight)
       where c.id = u.id`,
      [rows.map((r) => r.id), rows.map((r) => r.inDaypart), rows.map((r) => r.daypartAsOf), rows.map((r) => r.nextChangeAt),
        rows.map((r) => r.serving), rows.map((r) => `{${r.reasons.join(",")}}`), rows.map((r) => r.version.toString()), rows.map((r) => r.updatedAt),
        rows.map((r) => r.flight)],
    );
  }

  /** Several audit rows in one statement. */
  async auditMany(client: pg.ClientBase, rows: StateChangeRow[]): Promise<void> {
    if (rows.length === 0) return;
    await client.query(
      `insert into state_changes (id, campaign_id, brand_id, from_serving, to_serving, from_reasons, to_reasons, cause, source_id, principal, changed_at)
       select id, campaign_id, brand_id, from_serving, to_serving, from_reasons::smallint[], to_reasons::smallint[], cause, source_id, principal, changed_at
       from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bool[], $5::bool[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[])
         as u(id, campaign_id, brand_id, from_serving, to_serving, from_reasons, to_reasons, cause, source_id, principal, changed_at)`,
      [rows.map((r) => r.id), rows.map((r) => r.campaignId), rows.map((r) => r.brandId), rows.map((r) => r.fromServing), rows.map((r) => r.toServing),
        rows.map((r) => `{${r.fromReasons.join(",")}}`), rows.map((r) => `{${r.toReasons.join(",")}}`), rows.map((r) => r.cause),
        rows.map((r) => r.sourceId), rows.map((r) => r.principal), rows.map((r) => r.changedAt)],
    );
  }

  async getById(id: string): Promise<CampaignRow> {
    return this.get(this.pool, id, false);
  }

  async insert(client: pg.ClientBase, c: CampaignRow, cause: Cause): Promise<CampaignChange> {
    await client.query(
      `insert into campaigns (id, brand_id, name, enabled, schedule, in_daypart, daypart_as_of, serving, pause_reasons,
                              version, schedule_version, created_at, updated_at, next_change_at, start_date, end_date, flight, daily_limit_micros)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16, $17)`,
      [c.id, c.brandId, c.name, c.enabled, c.schedule === null ? null : JSON.stringify(c.schedule), c.inDaypart, c.daypartAsOf,
        c.serving, c.reasons, c.version.toString(), c.scheduleVersion.toString(), c.createdAt, c.nextChangeAt,
        c.startDate, c.endDate, c.flight, c.dailyLimitMicros?.toString() ?? null],
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
    const nextChangeAt = sameDaypartBasis(before, after) ? before.nextChangeAt : nextChangeOf(after, brand?.timeZone ?? "UTC", now.getTime());
    const row: CampaignRow = { ...after, nextChangeAt, serving: next.serving, reasons: next.reasons, version: before.version + 1n, updatedAt: now };
    await client.query(
      `update campaigns set name = $2, enabled = $3, schedule = $4, in_daypart = $5, daypart_as_of = $6, serving = $7,
              pause_reasons = $8, version = $9, schedule_version = $10, updated_at = $11, next_change_at = $12,
              start_date = $13, end_date = $14, flight = $15, daily_limit_micros = $16, cap_day = $17, cap_exhausted = $18, cap_seq = $19
       where id = $1`,
      [row.id, row.name, row.enabled, row.schedule === null ? null : JSON.stringify(row.schedule), row.inDaypart, row.daypartAsOf,
        row.serving, row.reasons, row.version.toString(), row.scheduleVersion.toString(), now, row.nextChangeAt,
        row.startDate, row.endDate, row.flight, row.dailyLimitMicros?.toString() ?? null, row.capDay, row.capExhausted, row.capSeq.toString()],
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
   * Applies a budget signal (an event, or a period opening) to the brand's flags of one kind and
   * recomputes the brand's campaigns when the current period's exhaustion changed. Idempotent and
   * order-insensitive (budget-flags.ts); a brand never seen gets a row.
   */
  async applyBudgetSignal(client: pg.ClientBase, brandId: string, kind: Kind, signal: BudgetSignal, cause: Cause, now: Date): Promise<CampaignChange[]> {
    await client.query(
      "insert into brand_state (brand_id, updated_at) values ($1, $2) on conflict (brand_id) do nothing",
      [brandId, now],
    );
    const brand = (await this.brandState(client, brandId, true))!;
    const { rows } = await client.query<{ period: string; exhausted: boolean; seq: string }>(
      "select period_start::text as period, exhausted, seq::text from budget_flags where brand_id = $1 and kind = $2",
      [brandId, kind],
    );
    const before: FlagState = {
      current: kind === PeriodKind.DAY ? brand.dayPeriod : brand.monthPeriod,
      flags: new Map(rows.map((r) => [r.period, { exhausted: r.exhausted, seq: BigInt(r.seq) }])),
    };
    const periods = periodsOf(now.getTime(), brand.timeZone);
    const today = formatDate(kind === PeriodKind.DAY ? periods.day : periods.month);
    const after = applyBudgetSignal(before, signal, today);
    if (after === before) return [];
    await this.saveFlags(client, brandId, kind, before, after, now);
    const exhausted = exhaustedNow(after);
    const updated: BrandStateRow = kind === PeriodKind.DAY
      ? { ...brand, dayPeriod: after.current, dayExhausted: exhausted }
      : { ...brand, monthPeriod: after.current, monthExhausted: exhausted };
    // A new current day also ends the old day's campaign caps (stateOf): recompute then too.
    const newDay = kind === PeriodKind.DAY && after.current !== before.current;
    if (exhausted === exhaustedNow(before) && !newDay) return [];
    return this.recomputeBrand(client, updated, cause, now);
  }

  private async saveFlags(client: pg.ClientBase, brandId: string, kind: Kind, before: FlagState, after: FlagState, now: Date): Promise<void> {
    const changed = [...after.flags].filter(([p, f]) => !sameFlag(before.flags.get(p), f));
    if (changed.length > 0) {
      await client.query(
        `insert into budget_flags (brand_id, kind, period_start, exhausted, seq)
         select $1, $2, * from unnest($3::date[], $4::bool[], $5::bigint[])
         on conflict (brand_id, kind, period_start) do update set exhausted = excluded.exhausted, seq = excluded.seq`,
        [brandId, kind, changed.map(([p]) => p), changed.map(([, f]) => f.exhausted), changed.map(([, f]) => f.seq.toString())],
      );
    }
    const dropped = [...before.flags.keys()].filter((p) => !after.flags.has(p));
    if (dropped.length > 0) {
      await client.query("delete from budget_flags where brand_id = $1 and kind = $2 and period_start = any($3::date[])", [brandId, kind, dropped]);
    }
    if (after.current !== before.current) {
      const col = kind === PeriodKind.DAY ? "day_period" : "month_period";
      await client.query(`update brand_state set ${col} = $2, updated_at = $3 where brand_id = $1`, [brandId, after.current, now]);
    }
  }

  /**
   * Applies a cap event of the budget service (CampaignCapEvent) to one campaign (cap-flags.ts). Idempotent and
   * order-insensitive: a later brand day wins, and within a day the highest sequence; anything
   * older changes nothing. The cap pauses the campaign only while its day is the brand's current
   * one (stateOf), so an event of yesterday arriving late pauses nothing, and the next day's reset
   * frees the campaign. Writes an audit row and an event only when serving or the reasons changed.
   */
  async applyCap(client: pg.ClientBase, campaignId: string, signal: { day: string; exhausted: boolean; seq: bigint }, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const owner = await client.query<{ brand_id: string }>("select brand_id::text from campaigns where id = $1 and deleted_at is null", [campaignId]);
    if (owner.rows[0] === undefined) return [];
    const brandId = owner.rows[0].brand_id;
    // The event is of today (by this service's clock in the brand's zone), which is not the
    // brand's current day yet (no budget event or reset of it arrived so far): today becomes
    // current. An event of an earlier day never does: it can only be late. Brand first, then
    // campaigns: the lock order of every brand-wide change.
    const changes: CampaignChange[] = [];
    let brand = await this.brandState(client, brandId, false);
    const today = formatDate(periodsOf(now.getTime(), brand?.timeZone ?? "UTC").day);
    if ((brand?.dayPeriod ?? "") < signal.day && signal.day === today) {
      changes.push(...await this.applyBudgetSignal(
        client, brandId, PeriodKind.DAY, { kind: "event", period: signal.day, exhausted: false, seq: 0n }, { ...cause, cause: "reset.day" }, now,
      ));
      brand = await this.brandState(client, brandId, false);
    }
    const { rows } = await client.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns where id = $1 and deleted_at is null for update`,
      [campaignId],
    );
    if (rows[0] === undefined) return changes;
    const c = toCampaign(rows[0]);
    const before = { day: c.capDay, exhausted: c.capExhausted, seq: c.capSeq };
    const flag = applyCapSignal(before, signal);
    if (flag === before) return changes;
    const after: CampaignRow = { ...c, capDay: flag.day, capExhausted: flag.exhausted, capSeq: flag.seq };
    if (sameState({ serving: c.serving, reasons: c.reasons }, stateOf(after, brand))) {
      await client.query("update campaigns set cap_day = $2, cap_exhausted = $3, cap_seq = $4 where id = $1", [c.id, signal.day, signal.exhausted, signal.seq.toString()]);
      return changes;
    }
    return [...changes, await this.save(client, c, after, brand, cause, now)];
  }

  /** Brand archived / zone changed: store it and recompute the brand's campaigns. */
  async applyBrand(client: pg.ClientBase, brand: { id: string; archived: boolean; timeZone: string; version: bigint }, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const before = await this.brandState(client, brand.id, true);
    if (before !== undefined && before.brandVersion >= brand.version) return [];
    const state = await this.upsertBrand(client, brand, now);
    if (before !== undefined && before.timeZone !== state.timeZone) return this.rezone(client, state, cause, now);
    return this.recomputeBrand(client, state, cause, now);
  }

  /**
   * The brand's zone moved: schedules in the brand's zone are evaluated in the new one at once,
   * and get a new schedule version, so a daypart clock still computing with the old zone changes
   * nothing (its workflow is signalled to reload).
   */
  private async rezone(client: pg.ClientBase, brand: BrandStateRow, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const { rows } = await client.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns where brand_id = $1 and deleted_at is null order by id for update`,
      [brand.brandId],
    );
    const changes: CampaignChange[] = [];
    for (const c of rows.map(toCampaign)) {
      if ((c.schedule === null || c.schedule.timeZone !== "") && !hasFlight(c)) {
        const next = stateOf(c, brand);
        if (!sameState({ serving: c.serving, reasons: c.reasons }, next)) changes.push(await this.save(client, c, c, brand, cause, now));
        continue;
      }
      // Flight dates are days of the brand's zone too: their phase moves with it.
      const after: CampaignRow = {
        ...c,
        inDaypart: c.schedule === null ? true : isInside(now.getTime(), c.schedule.windows, c.schedule.timeZone || brand.timeZone),
        flight: flightAt(c, brand.timeZone, now.getTime()),
        daypartAsOf: now,
        scheduleVersion: c.scheduleVersion + 1n,
      };
      changes.push(await this.save(client, c, after, brand, cause, now));
    }
    return changes;
  }

  /** Every live campaign of the brand again under the brand's state; saves those that changed. */
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
    const row = auditRow(c, from, to, cause, now);
    await client.query(
      `insert into state_changes (id, campaign_id, brand_id, from_serving, to_serving, from_reasons, to_reasons, cause, source_id, principal, changed_at)
       values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [row.id, row.campaignId, row.brandId, row.fromServing, row.toServing, row.fromReasons, row.toReasons, row.cause, row.sourceId, row.principal, now],
    );
    return row;
  }

  /** Live campaigns in id order, of one brand ("" = any) and, when `brands` is set, only of those. */
  async list(filter: { brandId: string; brands?: ReadonlySet<string>; serving?: boolean; after?: string; limit: number }): Promise<CampaignRow[]> {
    const { rows } = await this.pool.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns
       where deleted_at is null and ($1::uuid is null or brand_id = $1) and ($2::boolean is null or serving = $2)
         and ($3::uuid is null or id > $3) and ($5::uuid[] is null or brand_id = any($5))
       order by id limit $4`,
      [filter.brandId || null, filter.serving ?? null, filter.after ?? null, filter.limit, filter.brands ? [...filter.brands] : null],
    );
    return rows.map(toCampaign);
  }

  /** The audit log, newest first, by campaign and/or brand, and when `brands` is set only of those. */
  async listChanges(filter: { campaignId: string; brandId: string; brands?: ReadonlySet<string>; before?: string; limit: number }): Promise<StateChangeRow[]> {
    const { rows } = await this.pool.query<{
      id: string; campaign_id: string; brand_id: string; from_serving: boolean; to_serving: boolean;
      from_reasons: number[]; to_reasons: number[]; cause: string; source_id: string; principal: string; changed_at: Date;
    }>(
      `select id::text, campaign_id::text, brand_id::text, from_serving, to_serving, from_reasons, to_reasons, cause, source_id,
              principal, changed_at
       from state_changes
       where ($1::uuid is null or campaign_id = $1) and ($2::uuid is null or brand_id = $2) and ($3::uuid is null or id < $3)
         and ($5::uuid[] is null or brand_id = any($5))
       order by id desc limit $4`,
      [filter.campaignId || null, filter.brandId || null, filter.before ?? null, filter.limit, filter.brands ? [...filter.brands] : null],
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
      principal: r.principal,
      changedAt: r.changed_at,
    }));
  }

  /** Live campaigns by serving state (the metrics gauges). */
  async countByServing(): Promise<{ serving: number; paused: number }> {
    const { rows } = await this.pool.query<{ serving: string; paused: string }>(
      `select count(*) filter (where serving)::text as serving, count(*) filter (where not serving)::text as paused
       from campaigns where deleted_at is null`,
    );
    return { serving: Number(rows[0]!.serving), paused: Number(rows[0]!.paused) };
  }

  /** Every live campaign (optionally of one brand), for the Watch snapshot, in id order. */
  async snapshot(brandId: string, brands: ReadonlySet<string> | undefined, after: string | undefined, limit: number): Promise<CampaignRow[]> {
    return this.list({ brandId, brands, after, limit });
  }

  /** The brand of a campaign, deleted ones included (their audit log stays readable). */
  async brandOfCampaign(id: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ brand_id: string }>("select brand_id::text from campaigns where id = $1", [id]);
    return rows[0]?.brand_id;
  }
}

function sameFlag(a: PeriodFlag | undefined, b: PeriodFlag): boolean {
  return a !== undefined && a.exhausted === b.exhausted && a.seq === b.seq;
}
