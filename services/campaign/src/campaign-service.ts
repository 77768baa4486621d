import { Code, ConnectError, type Client, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import type pg from "pg";
import {
  actorOf,
  dateViolation,
  EtagMismatchError,
  FailedPreconditionError,
  InvalidArgumentError,
  keysetPage,
  NotFoundError,
  requestId,
  requestLogger,
  required,
  UnavailableError,
  uuidv7,
  type FieldViolation,
  type Logger,
  type Now,
} from "@adbudget/kit";
import { assertBrand, brandScope, outsideBrands } from "@adbudget/topology";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { Campaign, DaypartSchedule } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import {
  WatchEventType,
  type CampaignService,
  type WatchCampaignsResponse,
} from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import type { Date as ProtoDate } from "@adbudget/proto/google/type/date_pb.js";
import { formatDate, isInside } from "@adbudget/time";
import { NO_CAP_FLAGS, NO_LIFETIME_FLAG } from "./cap-flags.js";
import { flightAt, hasFlight } from "./flight.js";
import { nextChangeOf } from "./next-change.js";
import { applyBrand } from "./brand-changes.js";
import { listCampaignChanges, recordCampaignChange } from "./campaign-audit.js";
import { brandOf, brandState } from "./brand-state.js";
import { brandOfCampaign, getCampaign, listCampaigns, listStateChanges, snapshot } from "./campaign-reads.js";
import { stateOf, type CampaignRow, type Cause } from "./campaign-rows.js";
import type { CampaignStore } from "./campaign-store.js";
import { deleteCampaign, insertCampaign, saveCampaign } from "./campaign-writes.js";
import { lockBrands, lockCampaign } from "./lock-order.js";
import { campaignProto, changeProto, etagOf } from "./proto-mapping.js";
import { scheduleFromProto, scheduleZone, type StoredSchedule } from "./schedule.js";
import type { WatchHub } from "./watch-hub.js";

export interface CampaignServiceDeps {
  store: CampaignStore;
  brands: Client<typeof BrandService>;
  hub: WatchHub;
  logger: Logger;
  /** Told when a campaign's schedule is set, changed or removed (the daypart clock). */
  onScheduleChanged?: (campaign: CampaignRow) => Promise<void>;
  /** "Now" for the rules (the app's clock: CLOCK_OFFSET_MS, or a test's). */
  now: Now;
}

/** The fields UpdateCampaign's mask may name. */
const UPDATABLE = ["name", "schedule", "start_date", "end_date", "daily_limit_micros", "lifetime_limit_micros"];

/** The brand's version from its etag ("v7" -> 7n): orders brand data from different sources. */
function brandVersion(etag: string): bigint {
  return /^v\d+$/.test(etag) ? BigInt(etag.slice(1)) : 0n;
}

/**
 * adbudget.campaign.v1.CampaignService. The user's intent (`enabled`) is only ever changed by
 * PauseCampaign / ResumeCampaign; serving and its reasons are recomputed from the pure rule in
 * the same transaction as whatever changed an input, with an audit row and an outbox event.
 */
export class CampaignServiceImpl implements ServiceImpl<typeof CampaignService> {
  private readonly now: Now;

  constructor(private readonly deps: CampaignServiceDeps) {
    this.now = deps.now;
  }

  private cause(ctx: HandlerContext, cause: string): Cause {
    return { cause, sourceId: `request:${requestId(ctx)}`, ...actorOf(ctx) };
  }

  /**
   * Loads a campaign the caller names by id. A caller scoped to brands gets PERMISSION_DENIED
   * for a campaign outside them, and for one that does not exist: the answer says nothing about
   * what exists in another brand.
   */
  private async visible(ctx: HandlerContext, id: string): Promise<CampaignRow> {
    return this.checked(ctx, () => getCampaign(this.deps.store.pool, id));
  }

  /**
   * `visible` inside a transaction, under the campaign's row lock, taken after its brand's FOR
   * SHARE lock (lock-order.ts): the brand's state read after this is current.
   */
  private async lockVisible(ctx: HandlerContext, client: pg.ClientBase, id: string): Promise<CampaignRow> {
    const brandId = await brandOf(client, id);
    if (brandId !== undefined) {
      assertBrand(ctx, brandId); // a caller of other brands holds no lock of this one, not even briefly
      await lockBrands(client, [brandId], "share");
    }
    return this.checked(ctx, async () => {
      const c = await lockCampaign(client, id);
      if (c === undefined) throw new NotFoundError("campaign", id);
      return c;
    });
  }

  private async checked(ctx: HandlerContext, load: () => Promise<CampaignRow>): Promise<CampaignRow> {
    const scoped = brandScope(ctx) !== undefined;
    let c: CampaignRow;
    try {
      c = await load();
    } catch (err) {
      if (err instanceof NotFoundError && scoped) throw outsideBrands();
      throw err;
    }
    assertBrand(ctx, c.brandId);
    return c;
  }

  /** The brand from BrandService: NOT_FOUND if unknown; UNAVAILABLE if BrandService is down. */
  private async brand(brandId: string) {
    try {
      const { brand } = await this.deps.brands.getBrand({ id: brandId }, { timeoutMs: 3000 });
      if (brand !== undefined) return brand;
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.NotFound) throw new NotFoundError("brand", brandId);
      throw new UnavailableError(`brand service unavailable: ${e.rawMessage}`);
    }
    throw new UnavailableError(`brand service answered no brand ${brandId}`);
  }

  private daypartNow(schedule: StoredSchedule | null, brandZone: string, nowMs: number): boolean {
    return schedule === null ? true : isInside(nowMs, schedule.windows, scheduleZone(schedule, brandZone));
  }

  /** A flight date of a request as stored ("YYYY-MM-DD"), or a violation of `field`. */
  private flightDate(d: ProtoDate | undefined, field: string, violations: FieldViolation[]): string | null {
    if (d === undefined) return null;
    const bad = dateViolation(d, field);
    if (bad !== undefined) {
      violations.push(bad);
      return null;
    }
    return formatDate(d);
  }

  /** An end date before the start date is refused (a flight of no day at all is a mistake). */
  private checkFlight(
    startDate: string | null,
    endDate: string | null,
    field: string,
    violations: FieldViolation[],
  ): void {
    if (startDate !== null && endDate !== null && endDate < startDate) {
      violations.push({ field, description: `must not be before the start date ${startDate}` });
    }
  }

  async createCampaign(
    req: {
      brandId: string;
      name: string;
      schedule?: DaypartSchedule;
      enabled?: boolean;
      startDate?: ProtoDate;
      endDate?: ProtoDate;
      dailyLimitMicros?: bigint;
      lifetimeLimitMicros?: bigint;
    },
    ctx: HandlerContext,
  ) {
    assertBrand(ctx, req.brandId);
    const violations: FieldViolation[] = [];
    const startDate = this.flightDate(req.startDate, "start_date", violations);
    const endDate = this.flightDate(req.endDate, "end_date", violations);
    this.checkFlight(startDate, endDate, "end_date", violations);
    const lifetimeLimitMicros = req.lifetimeLimitMicros ?? null;
    // An end date sent but invalid is named already: the limit is refused only for one not sent.
    if (req.endDate === undefined) checkLifetime(lifetimeLimitMicros, null, "lifetime_limit_micros", violations);
    let schedule: StoredSchedule | null = null;
    try {
      schedule = scheduleFromProto(req.schedule, "schedule") ?? null;
    } catch (err) {
      if (!(err instanceof InvalidArgumentError)) throw err;
      violations.push(...err.violations);
    }
    if (violations.length > 0) throw new InvalidArgumentError(violations);
    const brand = await this.brand(req.brandId);
    if (brand.archived) throw new FailedPreconditionError(`brand ${JSON.stringify(brand.id)} is archived`);
    const nowMs = this.now();
    const now = new Date(nowMs);
    const { result } = await this.deps.store.tx(async (client) => {
      // Brand data newer than this service holds (its event not consumed yet) is applied as the
      // event would apply it: a zone change also moves the brand's current periods and its other
      // campaigns' schedules, not only its row (storing the row alone left the old zone's day
      // current, and the event, then not newer, changed nothing).
      const brandChanges = await applyBrand(
        client,
        { id: brand.id, archived: brand.archived, timeZone: brand.timeZone, version: brandVersion(brand.etag) },
        // The brand's change was another caller's (its event will name them, if it still can):
        // this call names no one for what it does to the brand's other campaigns.
        { cause: "brand.updated", sourceId: `request:${requestId(ctx)}` },
        now,
      );
      const state = await brandState(client, brand.id);
      if (state === undefined) throw new Error(`brand_state of ${brand.id} missing after it was stored`);
      const base = {
        id: uuidv7(nowMs),
        brandId: brand.id,
        name: req.name,
        enabled: req.enabled ?? true,
        schedule,
        inDaypart: this.daypartNow(schedule, state.timeZone, nowMs),
        daypartAsOf: now,
        nextChangeAt: nextChangeOf({ schedule, daypartAsOf: now, startDate, endDate }, state.timeZone, nowMs),
        version: 1n,
        scheduleVersion: schedule === null ? 0n : 1n,
        createdAt: now,
        updatedAt: now,
        deletedAt: null,
        startDate,
        endDate,
        flight: flightAt({ startDate, endDate }, state.timeZone, nowMs),
        dailyLimitMicros: req.dailyLimitMicros ?? null,
        capFlags: NO_CAP_FLAGS,
        throttle: 1,
        throttleSeq: 0n,
        throttleUntil: null,
        lifetimeLimitMicros,
        lifetimeFlag: NO_LIFETIME_FLAG,
      };
      const s = stateOf(base, state);
      const row: CampaignRow = { ...base, serving: s.serving, reasons: s.reasons };
      const change = await insertCampaign(client, row, this.cause(ctx, "create"));
      await recordCampaignChange(client, {
        action: "create",
        before: undefined,
        after: row,
        actor: actorOf(ctx),
        now,
      });
      return { result: row, changes: [...brandChanges, change] };
    }, nowMs);
    requestLogger(ctx, this.deps.logger).info(
      { campaignId: result.id, brandId: result.brandId, serving: result.serving },
      "campaign created",
    );
    if (result.schedule !== null || hasFlight(result)) await this.deps.onScheduleChanged?.(result);
    return { campaign: campaignProto(result) };
  }

  async getCampaign(req: { id: string }, ctx: HandlerContext) {
    return { campaign: campaignProto(await this.visible(ctx, req.id)) };
  }

  async listCampaigns(
    req: { brandId: string; serving?: boolean; pageSize: number; pageToken: string },
    ctx: HandlerContext,
  ) {
    if (req.brandId !== "") assertBrand(ctx, req.brandId);
    const brands = brandScope(ctx);
    const { rows, nextPageToken } = await keysetPage(
      req,
      { b: req.brandId, s: req.serving ?? null, only: brands && [...brands].sort() },
      (after, limit) =>
        listCampaigns(this.deps.store.pool, { brandId: req.brandId, brands, serving: req.serving, after, limit }),
      (c) => c.id,
    );
    return { campaigns: rows.map(campaignProto), nextPageToken };
  }

  async updateCampaign(req: { campaign?: Campaign; updateMask?: { paths: string[] } }, ctx: HandlerContext) {
    const c = required(req.campaign, "campaign");
    const paths = [...new Set(req.updateMask?.paths ?? [])];
    const violations: FieldViolation[] = [];
    if (!/^[0-9a-f-]{36}$/i.test(c.id)) violations.push({ field: "campaign.id", description: "must be a campaign id" });
    if (paths.length === 0) violations.push({ field: "update_mask", description: "must name at least one field" });
    let schedule: StoredSchedule | null | undefined;
    let startDate: string | null | undefined;
    let endDate: string | null | undefined;
    let dailyLimit: bigint | null | undefined;
    let lifetimeLimit: bigint | null | undefined;
    for (const p of paths) {
      if (p === "name") {
        if (c.name.length < 1 || c.name.length > 200)
          violations.push({ field: "campaign.name", description: "must be 1 to 200 characters" });
      } else if (p === "schedule") {
        try {
          schedule = scheduleFromProto(c.schedule, "campaign.schedule") ?? null;
        } catch (err) {
          if (err instanceof InvalidArgumentError) violations.push(...err.violations);
          else throw err;
        }
      } else if (p === "start_date") {
        startDate = this.flightDate(c.startDate, "campaign.start_date", violations);
      } else if (p === "end_date") {
        endDate = this.flightDate(c.endDate, "campaign.end_date", violations);
      } else if (p === "daily_limit_micros") {
        dailyLimit = c.dailyLimitMicros ?? null;
      } else if (p === "lifetime_limit_micros") {
        lifetimeLimit = c.lifetimeLimitMicros ?? null;
      } else {
        violations.push({
          field: "update_mask",
          description: `${JSON.stringify(p)} cannot be updated; updatable: ${UPDATABLE.join(", ")}`,
        });
      }
    }
    if (violations.length > 0) throw new InvalidArgumentError(violations);
    /** The schedule or the flight changed: the campaign's clock must recompute. */
    const clockChange = schedule !== undefined || startDate !== undefined || endDate !== undefined;
    const nowMs = this.now();
    const now = new Date(nowMs);
    const { result } = await this.deps.store.tx(async (client) => {
      const before = await this.lockVisible(ctx, client, c.id);
      if (c.etag !== "" && c.etag !== etagOf(before)) throw new EtagMismatchError("campaign", c.id);
      const brand = await brandState(client, before.brandId);
      const after: CampaignRow = { ...before };
      if (paths.includes("name")) after.name = c.name;
      if (startDate !== undefined) after.startDate = startDate;
      if (endDate !== undefined) after.endDate = endDate;
      if (dailyLimit !== undefined) after.dailyLimitMicros = dailyLimit;
      if (lifetimeLimit !== undefined) after.lifetimeLimitMicros = lifetimeLimit;
      const flightViolations: FieldViolation[] = [];
      this.checkFlight(
        after.startDate,
        after.endDate,
        endDate !== undefined ? "campaign.end_date" : "campaign.start_date",
        flightViolations,
      );
      // Named by what this request changed: the limit it set, the end date it removed, or both.
      for (const field of [
        ...(lifetimeLimit !== undefined ? ["campaign.lifetime_limit_micros"] : []),
        ...(endDate !== undefined || lifetimeLimit === undefined ? ["campaign.end_date"] : []),
      ])
        checkLifetime(after.lifetimeLimitMicros, after.endDate, field, flightViolations);
      if (flightViolations.length > 0) throw new InvalidArgumentError(flightViolations);
      if (schedule !== undefined) {
        after.schedule = schedule;
        after.scheduleVersion = before.scheduleVersion + 1n;
      }
      if (clockChange) {
        // The clock's state is recomputed for now (a later end date revives an ended campaign at
        // once); a clock call computed before this instant is then older and changes nothing.
        after.inDaypart = this.daypartNow(after.schedule, brand?.timeZone ?? "UTC", nowMs);
        after.flight = flightAt(after, brand?.timeZone ?? "UTC", nowMs);
        after.daypartAsOf = now;
      }
      const change = await saveCampaign(client, before, after, brand, this.cause(ctx, "update"), now);
      const actor = actorOf(ctx);
      await recordCampaignChange(client, { action: "update", before, after: change.campaign, actor, now });
      return { result: change.campaign, changes: [change] };
    }, nowMs);
    if (clockChange) await this.deps.onScheduleChanged?.(result);
    return { campaign: campaignProto(result) };
  }

  private async setEnabled(id: string, enabled: boolean, ctx: HandlerContext) {
    const nowMs = this.now();
    const { result } = await this.deps.store.tx(async (client) => {
      const before = await this.lockVisible(ctx, client, id);
      if (before.enabled === enabled) return { result: before, changes: [] };
      const brand = await brandState(client, before.brandId);
      const change = await saveCampaign(
        client,
        before,
        { ...before, enabled },
        brand,
        this.cause(ctx, enabled ? "user.resume" : "user.pause"),
        new Date(nowMs),
      );
      await recordCampaignChange(client, {
        action: enabled ? "resume" : "pause",
        before,
        after: change.campaign,
        actor: actorOf(ctx),
        now: new Date(nowMs),
      });
      return { result: change.campaign, changes: [change] };
    }, nowMs);
    return { campaign: campaignProto(result) };
  }

  async pauseCampaign(req: { id: string }, ctx: HandlerContext) {
    return this.setEnabled(req.id, false, ctx);
  }

  async resumeCampaign(req: { id: string }, ctx: HandlerContext) {
    return this.setEnabled(req.id, true, ctx);
  }

  async deleteCampaign(req: { id: string }, ctx: HandlerContext) {
    const nowMs = this.now();
    const { result } = await this.deps.store.tx(async (client) => {
      const before = await this.lockVisible(ctx, client, req.id);
      const change = await deleteCampaign(client, before, this.cause(ctx, "delete"), new Date(nowMs));
      const actor = actorOf(ctx);
      await recordCampaignChange(client, {
        action: "delete",
        before,
        after: change.campaign,
        actor,
        now: new Date(nowMs),
      });
      return { result: change.campaign, changes: [change] };
    }, nowMs);
    if (result.schedule !== null || hasFlight(result)) await this.deps.onScheduleChanged?.(result);
    return {};
  }

  /** The campaign's audit log (campaign-audit.ts), newest first; a deleted campaign's too. */
  async listCampaignChanges(req: { campaignId: string; pageSize: number; pageToken: string }, ctx: HandlerContext) {
    const owner = await brandOfCampaign(this.deps.store.pool, req.campaignId);
    const brands = brandScope(ctx);
    // Outside the caller's brands, or none: refused alike (nothing said of another brand's ids).
    if (brands !== undefined && (owner === undefined || !brands.has(owner))) throw outsideBrands();
    if (owner === undefined) throw new NotFoundError("campaign", req.campaignId);
    return listCampaignChanges(this.deps.store.pool, req.campaignId, req);
  }

  async listCampaignStateChanges(
    req: { campaignId: string; brandId: string; pageSize: number; pageToken: string },
    ctx: HandlerContext,
  ) {
    if (req.brandId !== "") assertBrand(ctx, req.brandId);
    const brands = brandScope(ctx);
    if (req.campaignId !== "" && brands !== undefined) {
      // The log of a campaign outside the caller's brands (or of none): refused alike.
      const owner = await brandOfCampaign(this.deps.store.pool, req.campaignId);
      if (owner === undefined || !brands.has(owner)) throw outsideBrands();
    }
    const { rows, nextPageToken } = await keysetPage(
      req,
      { c: req.campaignId, b: req.brandId, only: brands && [...brands].sort() },
      (before, limit) =>
        listStateChanges(this.deps.store.pool, {
          campaignId: req.campaignId,
          brandId: req.brandId,
          brands,
          before,
          limit,
        }),
      (c) => c.id,
    );
    return { changes: rows.map(changeProto), nextPageToken };
  }

  /**
   * The current state of every matching campaign, then every committed change. Subscribes
   * before reading the snapshot, and skips buffered changes the snapshot already shows (by
   * version), so nothing is missed or sent twice.
   */
  async *watchCampaigns(req: { brandId: string }, ctx: HandlerContext): AsyncGenerator<WatchCampaignsResponse> {
    if (req.brandId !== "") assertBrand(ctx, req.brandId);
    const brands = brandScope(ctx);
    const changes = this.deps.hub.subscribe(req.brandId, ctx.signal, brands);
    try {
      // Per campaign, the (version, throttle sequence) the stream has shown.
      const versions = new Map<string, { version: bigint; throttleSeq: bigint }>();
      let after: string | undefined;
      for (;;) {
        const page = await snapshot(this.deps.store.pool, req.brandId, brands, after, 500);
        for (const c of page) {
          versions.set(c.id, { version: c.version, throttleSeq: c.throttleSeq });
          yield {
            $typeName: "adbudget.campaign.v1.WatchCampaignsResponse",
            type: WatchEventType.SNAPSHOT,
            campaign: campaignProto(c),
          };
        }
        const last = page.at(-1);
        if (page.length < 500 || last === undefined) break;
        after = last.id;
      }
      yield { $typeName: "adbudget.campaign.v1.WatchCampaignsResponse", type: WatchEventType.SNAPSHOT_COMPLETE };
      for await (const event of changes) {
        const c = event.campaign;
        if (c === undefined) continue;
        const version = BigInt(c.etag.slice(1) || "0");
        // A change the stream already showed (in the snapshot, or before) is skipped. A throttle
        // change keeps the version (pacing must not fail a user's etag), so changes are ordered
        // by (version, throttle sequence): a throttle older than what was shown never follows it.
        const seen = versions.get(c.id);
        const throttleSeq = event.throttleSequence;
        if (
          seen !== undefined &&
          (seen.version > version || (seen.version === version && seen.throttleSeq >= throttleSeq))
        )
          continue;
        versions.set(c.id, { version, throttleSeq });
        yield {
          $typeName: "adbudget.campaign.v1.WatchCampaignsResponse",
          type: event.deleted ? WatchEventType.DELETED : WatchEventType.CHANGED,
          campaign: c,
          change: event.change,
        };
      }
    } finally {
      changes.close();
    }
  }
}

/**
 * A lifetime budget is spread over the flight's remaining days (pacing), so it needs a last day:
 * an end date, set with it or kept while it stays.
 */
function checkLifetime(
  limit: bigint | null,
  endDate: string | null,
  field: string,
  violations: FieldViolation[],
): void {
  if (limit !== null && endDate === null)
    violations.push({ field, description: "a lifetime limit needs an end_date (the last day it is spread over)" });
}
