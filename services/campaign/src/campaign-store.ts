import type pg from "pg";
import { inTransaction, NotFoundError, writeOutbox, type OutboxMessage } from "@adbudget/kit";
import type { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, isInside, periodsOf } from "@adbudget/time";
import {
  applyBudgetSignal, applyTruth, CLOCK_SKEW_MS, exhaustedNow, rezoneFlags, retainedFrom, type BudgetSignal, type FlagState, type PeriodFlag, type PeriodKindName, type PeriodTruth,
} from "./budget-flags.js";
import { applyCapSignal, applyCapTruth, capFlagsToJson, type CapFlags, type CapSignal } from "./cap-flags.js";
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
 *
 * Lock order, followed by every writer: the brand's `brand_state` row first, then campaign rows
 * in id order (several brands: their rows in id order, then the campaigns). A write to the whole
 * brand (a budget or cap signal, a brand change, a campaign created with newer brand data,
 * reconciliation) locks the brand row FOR UPDATE;
 * a write to single campaigns (the API, the daypart clock) locks it FOR SHARE, so those run side
 * by side while a brand-wide write waits for them and they for it. `budget_flags` rows are only
 * written under their brand's FOR UPDATE lock. The brand's state is read AFTER its lock, in a
 * statement of its own: a state read before the lock (or in the statement that waited for it)
 * can be one that a brand-wide write then changed, and a campaign judged by it ends wrong (a cap
 * raise read "day open", the day's exhaustion committed, the raise saved the campaign serving).
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

  /**
   * Locks brands' state rows, in id order: the first lock of every writer (see the class). A
   * brand without a row yet has nothing to lock (its first writer creates the row under the
   * unique index, which serializes the creators).
   */
  async lockBrands(client: pg.ClientBase, brandIds: string[], mode: "share" | "update"): Promise<void> {
    if (brandIds.length === 0) return;
    await client.query(`select 1 from brand_state where brand_id = any($1::uuid[]) order by brand_id for ${mode === "share" ? "share" : "update"}`, [brandIds]);
  }

  /** The brand of a live campaign, read without a lock (a campaign never changes brand); undefined if none. */
  async brandOf(client: pg.ClientBase, campaignId: string): Promise<string | undefined> {
    const { rows } = await client.query<{ brand_id: string }>("select brand_id::text from campaigns where id = $1 and deleted_at is null", [campaignId]);
    return rows[0]?.brand_id;
  }

  /** Brands of live campaigns, read without locks, for the brand locks that must come first. */
  async brandsOf(client: pg.ClientBase, campaignIds: string[]): Promise<string[]> {
    const { rows } = await client.query<{ brand_id: string }>(
      "select distinct brand_id::text from campaigns where id = any($1::uuid[]) and deleted_at is null",
      [campaignIds],
    );
    return rows.map((r) => r.brand_id);
  }

  /** Creates or refreshes the brand's row (archived flag and zone) from BrandService data. */
  private async upsertBrand(client: pg.ClientBase, brand: { id: string; archived: boolean; timeZone: string; version: bigint }, now: Date, force = false): Promise<BrandStateRow> {
    await client.query(
      `insert into brand_state (brand_id, archived, time_zone, brand_version, updated_at) values ($1, $2, $3, $4, $5)
       on conflict (brand_id) do update set archived = excluded.archived, time_zone = excluded.time_zone,
         brand_version = excluded.brand_version, updated_at = excluded.updated_at
         where $6 or brand_state.brand_version < excluded.brand_version`,
      [brand.id, brand.archived, brand.timeZone, brand.version.toString(), now, force],
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
              start_date = $13, end_date = $14, flight = $15, daily_limit_micros = $16, cap_flags = $17
       where id = $1`,
      [row.id, row.name, row.enabled, row.schedule === null ? null : JSON.stringify(row.schedule), row.inDaypart, row.daypartAsOf,
        row.serving, row.reasons, row.version.toString(), row.scheduleVersion.toString(), now, row.nextChangeAt,
        row.startDate, row.endDate, row.flight, row.dailyLimitMicros?.toString() ?? null, JSON.stringify(capFlagsToJson(row.capFlags))],
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
    return this.applySignals(client, brandId, [{ kind, signal }], cause, now);
  }

  /**
   * Applies several budget signals of one brand in ONE transaction and recomputes its campaigns
   * once: the day and the month opening together on the 1st, so a campaign paused by the old day
   * does not serve for an instant between the new day's opening and a new month that opens
   * exhausted.
   */
  async applySignals(client: pg.ClientBase, brandId: string, signals: { kind: Kind; signal: BudgetSignal }[], cause: Cause, now: Date): Promise<CampaignChange[]> {
    const brand = await this.lockedBrand(client, brandId, now);
    let updated = brand;
    let recompute = false;
    for (const { kind, signal } of signals) {
      const r = await this.moveFlags(client, updated, kind, (before, today) => applyBudgetSignal(before, signal, today, kindName(kind)), now);
      updated = r.brand;
      recompute ||= r.recompute;
    }
    return recompute ? this.recomputeBrand(client, updated, cause, now) : [];
  }

  /** The brand's row, created if missing, locked FOR UPDATE (a brand-wide write), then read. */
  private async lockedBrand(client: pg.ClientBase, brandId: string, now: Date): Promise<BrandStateRow> {
    await client.query("insert into brand_state (brand_id, updated_at) values ($1, $2) on conflict (brand_id) do nothing", [brandId, now]);
    const brand = await this.brandState(client, brandId, true);
    if (brand === undefined) throw new Error(`brand_state row of ${brandId} vanished under its lock`);
    return brand;
  }

  /**
   * One kind's flags through `step` (under the brand's FOR UPDATE lock), stored; answers the
   * brand's state after it and whether its campaigns must be recomputed (the current period's
   * exhaustion changed, or a new current day, which also ends the old day's campaign caps).
   */
  private async moveFlags(
    client: pg.ClientBase, brand: BrandStateRow, kind: Kind, step: (before: FlagState, today: string, latest: string) => FlagState, now: Date,
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
    await this.saveFlags(client, brand.brandId, kind, before, after, now);
    const exhausted = exhaustedNow(after);
    const updated: BrandStateRow = kind === PeriodKind.DAY
      ? { ...brand, dayPeriod: after.current, dayExhausted: exhausted }
      : { ...brand, monthPeriod: after.current, monthExhausted: exhausted };
    const newDay = kind === PeriodKind.DAY && after.current !== before.current;
    return { brand: updated, recompute: exhausted !== exhaustedNow(before) || newDay };
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
   * Applies a cap event of the budget service (CampaignCapEvent) to one campaign (cap-flags.ts).
   * Idempotent and order-insensitive: each brand day keeps the highest sequence; the flag of the
   * brand's current day is the one judged (stateOf), so an event of yesterday arriving late
   * pauses nothing and one of tomorrow pauses nothing yet. Writes an audit row and an event only
   * when serving or the reasons changed.
   *
   * The brand's row is locked FOR UPDATE first (an event of today can make today the brand's
   * current day, a brand-wide write), and the campaign is judged by the brand's state read after
   * that lock: never by one read before a concurrent budget event committed.
   */
  async applyCap(client: pg.ClientBase, campaignId: string, signal: CapSignal, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const brandId = await this.brandOf(client, campaignId);
    if (brandId === undefined) return [];
    let brand = await this.lockedBrand(client, brandId, now);
    const changes: CampaignChange[] = [];
    // The event is of today (by this service's clock in the brand's zone), which is not the
    // brand's current day yet (no budget event or reset of it arrived so far): today becomes
    // current. An event of an earlier day never does: it can only be late.
    const today = formatDate(periodsOf(now.getTime(), brand.timeZone).day);
    if ((brand.dayPeriod ?? "") < signal.day && signal.day === today) {
      const r = await this.moveFlags(client, brand, PeriodKind.DAY, (before, day) =>
        applyBudgetSignal(before, { kind: "event", period: signal.day, exhausted: false, seq: 0n }, day, "day"), now);
      brand = r.brand;
      if (r.recompute) changes.push(...await this.recomputeBrand(client, brand, { ...cause, cause: "reset.day" }, now));
    }
    const c = await this.lockedCampaign(client, campaignId);
    if (c === undefined) return changes;
    const flags = applyCapSignal(c.capFlags, signal, floorOf(brand));
    if (flags === c.capFlags) return changes;
    return [...changes, ...await this.saveCapFlags(client, c, flags, brand, cause, now)];
  }

  /** A campaign's cap flags changed: saved, with a new state, audit and event only if its serving state changed. */
  private async saveCapFlags(client: pg.ClientBase, c: CampaignRow, flags: CapFlags, brand: BrandStateRow, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const after: CampaignRow = { ...c, capFlags: flags };
    if (sameState({ serving: c.serving, reasons: c.reasons }, stateOf(after, brand))) {
      await client.query("update campaigns set cap_flags = $2 where id = $1", [c.id, JSON.stringify(capFlagsToJson(flags))]);
      return [];
    }
    return [await this.save(client, c, after, brand, cause, now)];
  }

  private async lockedCampaign(client: pg.ClientBase, campaignId: string): Promise<CampaignRow | undefined> {
    const { rows } = await client.query<RawCampaign>(`select ${CAMPAIGN_COLUMNS} from campaigns where id = $1 and deleted_at is null for update`, [campaignId]);
    return rows[0] === undefined ? undefined : toCampaign(rows[0]);
  }

  /** Brand archived / zone changed: store it and recompute the brand's campaigns. */
  async applyBrand(client: pg.ClientBase, brand: { id: string; archived: boolean; timeZone: string; version: bigint }, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const before = await this.brandState(client, brand.id, true);
    if (before !== undefined && before.brandVersion >= brand.version) return [];
    return this.storeBrand(client, before, brand, cause, now);
  }

  private async storeBrand(
    client: pg.ClientBase, before: BrandStateRow | undefined, brand: { id: string; archived: boolean; timeZone: string; version: bigint }, cause: Cause, now: Date,
    /** Written over a row of the same or a higher version (reconciliation repairing a drifted row). */
    force = false,
  ): Promise<CampaignChange[]> {
    let state = await this.upsertBrand(client, brand, now, force);
    if (before !== undefined && before.timeZone !== state.timeZone) {
      // The current day and month are the ones of the new zone, even if earlier (a zone moved
      // west): the budget events and openings of those periods apply from now on.
      for (const kind of [PeriodKind.DAY, PeriodKind.MONTH] as const) {
        state = (await this.moveFlags(client, state, kind, (flags, today) => rezoneFlags(flags, today, kindName(kind)), now)).brand;
      }
      return this.rezone(client, state, cause, now);
    }
    return this.recomputeBrand(client, state, cause, now);
  }

  /**
   * Reconciliation of one brand from the current truth: the brand as BrandService holds it, and
   * the budget service's current day and month and the cap state of each of the brand's capped
   * campaigns today, read just before. Each replaces what this service holds unless what it holds
   * carries a higher sequence (an event committed after the read); then EVERY campaign of the
   * brand is judged again and whatever differs is saved and recorded with `cause` (reconcile),
   * whether or not a flag moved: a campaign saved from a state that was wrong is repaired too.
   */
  async reconcileBrand(client: pg.ClientBase, truth: BrandTruth, cause: Cause, now: Date): Promise<CampaignChange[]> {
    const changes: CampaignChange[] = [];
    let brand = await this.lockedBrand(client, truth.brandId, now);
    const b = truth.brand;
    if (b !== undefined && b.version >= brand.brandVersion && (b.version > brand.brandVersion || b.archived !== brand.archived || b.timeZone !== brand.timeZone)) {
      // Written over what is stored: the same version with other values is a row that drifted.
      changes.push(...await this.storeBrand(client, brand, { id: brand.brandId, ...b }, cause, now, true));
      brand = (await this.brandState(client, brand.brandId, false)) ?? brand;
    }
    for (const [kind, t] of [[PeriodKind.DAY, truth.day], [PeriodKind.MONTH, truth.month]] as const) {
      if (t !== undefined) {
        brand = (await this.moveFlags(client, brand, kind, (flags, today, latest) => applyTruth(flags, t, today, kindName(kind), latest), now)).brand;
      }
    }
    const { rows } = await client.query<RawCampaign>(
      `select ${CAMPAIGN_COLUMNS} from campaigns where brand_id = $1 and deleted_at is null order by id for update`,
      [brand.brandId],
    );
    const caps = new Map<string, CapSignal[]>();
    for (const t of truth.caps) caps.set(t.campaignId, [...(caps.get(t.campaignId) ?? []), t]);
    const floor = floorOf(brand);
    for (const c of rows.map(toCampaign)) {
      const flags = (caps.get(c.id) ?? []).reduce((f, t) => applyCapTruth(f, t, floor), c.capFlags);
      const after: CampaignRow = { ...c, capFlags: flags };
      if (!sameState({ serving: c.serving, reasons: c.reasons }, stateOf(after, brand))) changes.push(await this.save(client, c, after, brand, cause, now));
      else if (flags !== c.capFlags) await client.query("update campaigns set cap_flags = $2 where id = $1", [c.id, JSON.stringify(capFlagsToJson(flags))]);
    }
    return changes;
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

/** What reconciliation knows of a brand's truth (CampaignClockService.ReconcileBrand). */
export interface BrandTruth {
  brandId: string;
  /** The brand as BrandService holds it (absent: not checked). */
  brand?: { archived: boolean; timeZone: string; version: bigint };
  /** The budget service's current day and month, with their state and sequence. */
  day?: PeriodTruth;
  month?: PeriodTruth;
  /** The cap state of each capped campaign on the budget's current day. */
  caps: (CapSignal & { campaignId: string })[];
}

function kindName(kind: Kind): PeriodKindName {
  return kind === PeriodKind.DAY ? "day" : "month";
}

/** The oldest day whose cap flags are kept (as for the budget flags: the brand's day may move back with its zone). */
function floorOf(brand: BrandStateRow): string | null {
  return brand.dayPeriod === null ? null : retainedFrom("day", brand.dayPeriod);
}

function sameFlag(a: PeriodFlag | undefined, b: PeriodFlag): boolean {
  return a !== undefined && a.exhausted === b.exhausted && a.seq === b.seq;
}
