import type { Timestamp } from "@bufbuild/protobuf/wkt";
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import type { Validator } from "@bufbuild/protovalidate";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  actorOf,
  dateViolation,
  InvalidArgumentError,
  pageSize,
  principalOf,
  requestLogger,
  type DateLike,
  type Logger,
  type Now,
} from "@adbudget/kit";
import { assertBrand } from "@adbudget/topology";
import type { BudgetService, RecordSpendRequest } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import type { BrandDirectory, BrandInfo } from "./brand-directory.js";
import type { CampaignDirectory } from "./campaign-directory.js";
import type { BudgetStore } from "./budget-store.js";
import { listBudgetChanges } from "./budget-changes.js";
import { budgetPatch, type SetBudgetFields } from "./budget-patch.js";
import { addDays, formatDate, parseDate, periodsOf } from "@adbudget/time";
import type { AlertWatch } from "./alert-watch.js";
import { targetMicros } from "./pacing-curve.js";
import type { PacingProfiles } from "./pacing-profile.js";
import { RATE_WINDOW_MS } from "./forecast.js";
import { lifetimeExhaustion } from "./lifetime-budget.js";
import { readCampaignFigures } from "./campaign-figures.js";
import { budgetChangeProto, budgetProto, budgetStatus, periodProto, spendProto } from "./proto-mapping.js";
import { SpendIntake } from "./spend-intake.js";
import { SpendRecorder } from "./spend-recorder.js";
import type { SpendWriter } from "./spend-writer.js";
import type { ZoneLocks } from "./zone-locks.js";
import { usableZone } from "./runtime-zone.js";

/** Most events in one RecordSpendBatch call. */
export const MAX_BATCH = 1000;

export interface BudgetServiceDeps {
  store: BudgetStore;
  writer: SpendWriter;
  brands: BrandDirectory;
  zones: ZoneLocks;
  /** Checks campaign -> brand; absent when no campaign service is configured. */
  campaigns?: CampaignDirectory;
  validator: Validator;
  logger: Logger;
  /** The WatchBudgetAlerts streams (absent: the RPC answers UNIMPLEMENTED, as in router tests). */
  alerts?: AlertWatch;
  /** Told of every answered spend event (metrics). */
  onSpend?: (duplicate: boolean, amount: bigint) => void;
  /** "Now" for the rules (the app's clock: CLOCK_OFFSET_MS, or a test's). */
  now: Now;
  /** The paced days' target curves, for GetBudgetStatus's `target_spent_micros` (absent: none shown). */
  profiles?: PacingProfiles;
}

/**
 * adbudget.budget.v1.BudgetService. Request shapes are checked by the protovalidate interceptor
 * (RecordSpendBatch events one by one, here, so a bad event fails alone); existence and time
 * rules here; money and periods in the store and the spend writer.
 */
export class BudgetServiceImpl implements ServiceImpl<typeof BudgetService> {
  private readonly now: Now;
  /** The checks of spend events (spend-intake.ts). */
  private readonly intake: SpendIntake;
  /** Their writing and answers (spend-recorder.ts). */
  private readonly spend: SpendRecorder;

  constructor(private readonly deps: BudgetServiceDeps) {
    const now = deps.now;
    this.now = now;
    const { validator, brands, zones, campaigns, store, writer, logger, onSpend } = deps;
    this.intake = new SpendIntake({ validator, brands, zones, campaigns, pool: store.pool, now });
    this.spend = new SpendRecorder({ writer, store, brands, zones, logger, onSpend, now });
  }

  /**
   * The zone a write judges periods in: the locked one, or else the brand's zone read from
   * BrandService now, not from the cache. Until its first spend a brand's zone may change, and
   * a limit applied by a zone seconds old lands on the other zone's day (a zone moved west left
   * its new current day with the old limit). A change committed in the instant between this read
   * and the write is repaired by the reset clock it wakes, which opens the new zone's day with
   * the budget's limit.
   */
  private async writeZoneOf(brand: BrandInfo): Promise<string> {
    const locked = await this.deps.zones.lockedZone(brand.id);
    return usableZone(locked ?? (await this.deps.brands.fresh(brand.id)).timeZone, brand.id);
  }

  /**
   * Creates or patches the brand's budget (budget-patch.ts: AIP-134, only the fields named or,
   * without a mask, populated change). The store reads "now" under the budget row's lock; the
   * answer's status is as of that instant.
   */
  async setBudget(req: { brandId: string } & SetBudgetFields, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    const patch = budgetPatch(req);
    const brand = await this.deps.brands.get(req.brandId);
    const actor = actorOf(ctx);
    const r = await this.deps.store.setBudget(brand.id, patch, await this.writeZoneOf(brand), this.now, actor);
    const { daily, monthly, alertPercents: alerts } = r.budget;
    const limits = { daily: daily?.toString() ?? null, monthly: monthly?.toString() ?? null };
    requestLogger(ctx, this.deps.logger).info({ brandId: brand.id, ...limits, alerts }, "budget set");
    return { budget: budgetProto(r.budget), status: budgetStatus(brand, r, r.asOfMs) };
  }

  /** The brand's alert thresholds as they are reached, from now on (alert-watch.ts). */
  async *watchBudgetAlerts(req: { brandId: string }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    await this.deps.brands.get(req.brandId);
    if (this.deps.alerts === undefined) {
      throw new ConnectError("alerts are not wired in this process", Code.Unimplemented);
    }
    for await (const alert of this.deps.alerts.watch(req.brandId, ctx.signal)) {
      yield alert === undefined ? { subscribed: true } : { alert };
    }
  }

  async getBudget(req: { brandId: string }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    await this.deps.brands.get(req.brandId);
    return { budget: budgetProto(await this.deps.store.getBudget(req.brandId)) };
  }

  async getBudgetStatus(req: { brandId: string }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    const brand = await this.deps.brands.get(req.brandId);
    const now = this.now();
    const zone = await this.deps.zones.zoneOf(brand);
    const [periods, lastHour, budget] = await Promise.all([
      this.deps.store.status(brand.id, zone, now),
      this.deps.store.spentBetween(brand.id, now - RATE_WINDOW_MS, now),
      this.deps.store.findBudget(brand.id),
    ]);
    const target =
      budget?.pacing === PacingMode.PACED ? await this.pacingTarget(brand.id, zone, now, periods.day.limit) : undefined;
    return { status: budgetStatus(brand, periods, now, { zone, lastHour, target }) };
  }

  /**
   * Where a paced day's spend should stand now, for the day's limit as the status read it (so the
   * two agree); undefined without a limit, or when the profile cannot be read (the status is
   * still answered: the target is an aid, not the ledger).
   */
  private async pacingTarget(brandId: string, zone: string, nowMs: number, limit: bigint | null) {
    if (this.deps.profiles === undefined || limit === null) return undefined;
    try {
      const curve = await this.deps.profiles.curve(brandId, periodsOf(nowMs, zone).day, zone);
      return targetMicros(curve, nowMs, limit);
    } catch (err) {
      this.deps.logger.warn({ err, brandId }, "pacing target unavailable");
      return undefined;
    }
  }

  async getCampaignSpend(req: { brandId: string; campaignId: string; day?: DateLike }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    const bad = req.day === undefined ? undefined : dateViolation(req.day, "day");
    if (bad !== undefined) throw new InvalidArgumentError([bad]);
    const brand = await this.deps.brands.get(req.brandId);
    const nowMs = this.now();
    const zone = await this.deps.zones.zoneOf(brand);
    const today = formatDate(periodsOf(nowMs, zone).day);
    const day = req.day ?? parseDate(today);
    const { campaignId } = req;
    // The recent pace of the forecast: from the start of yesterday, or of the flight if later.
    const recentFrom = formatDate(addDays(parseDate(today), -1));
    const f = await readCampaignFigures(this.deps.store.pool, {
      brandId: brand.id,
      campaignId,
      day: formatDate(day),
      recentFrom,
      today,
    });
    const { spent, count, limit, exhausted } = f.day;
    const limitMicros = limit ?? undefined;
    const life = f.lifetime;
    // A flight not started yet (its first day after today) has no window: no projection.
    const projected = lifetimeExhaustion({
      ...life,
      endDate: f.endDate,
      recentSpent: f.recent,
      sinceDay: f.sinceDay,
      nowMs,
      zone,
    });
    return {
      brandId: brand.id,
      campaignId,
      day,
      spentMicros: spent,
      eventCount: count,
      limitMicros,
      exhausted,
      lifetimeSpentMicros: life.spent,
      lifetimeLimitMicros: life.limit ?? undefined,
      lifetimeExhausted: life.exhausted,
      lifetimeProjectedExhaustTime: projected === undefined ? undefined : timestampFromMs(projected),
    };
  }

  async recordSpend(req: RecordSpendRequest, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    return this.spend.record(await this.intake.prepare(req, principalOf(ctx)), ctx.signal);
  }

  /**
   * Up to MAX_BATCH events, each succeeding or failing on its own; the batch is checked and
   * written as a whole (spend-intake.ts, spend-recorder.ts).
   */
  async recordSpendBatch(req: { events: RecordSpendRequest[] }, ctx: HandlerContext) {
    if (req.events.length === 0 || req.events.length > MAX_BATCH) {
      throw new InvalidArgumentError([{ field: "events", description: `must hold 1 to ${MAX_BATCH} events` }]);
    }
    // A batch with one event of a brand outside the caller's brands is refused whole.
    for (const e of req.events) assertBrand(ctx, e.brandId);
    const prepared = await this.intake.prepareAll(req.events, principalOf(ctx));
    return { results: await this.spend.recordAll(prepared, ctx) };
  }

  async listSpendEvents(
    req: {
      brandId: string;
      campaignId: string;
      startTime?: Timestamp;
      endTime?: Timestamp;
      pageSize: number;
      pageToken: string;
    },
    ctx: HandlerContext,
  ) {
    assertBrand(ctx, req.brandId);
    await this.deps.brands.get(req.brandId);
    const { events, nextPageToken } = await this.deps.store.listSpend({
      brandId: req.brandId,
      campaignId: req.campaignId,
      startMs: req.startTime && timestampMs(req.startTime),
      endMs: req.endTime && timestampMs(req.endTime),
      pageToken: req.pageToken,
      limit: pageSize(req.pageSize),
    });
    return { events: events.map(spendProto), nextPageToken };
  }

  async listBudgetPeriods(
    req: { brandId: string; kind: PeriodKind; pageSize: number; pageToken: string },
    ctx: HandlerContext,
  ) {
    assertBrand(ctx, req.brandId);
    await this.deps.brands.get(req.brandId);
    const { periods, nextPageToken } = await this.deps.store.listPeriods({
      brandId: req.brandId,
      kind: req.kind,
      pageToken: req.pageToken,
      limit: pageSize(req.pageSize),
    });
    return { periods: periods.map(periodProto), nextPageToken };
  }

  async listBudgetChanges(req: { brandId: string; pageSize: number; pageToken: string }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    await this.deps.brands.get(req.brandId);
    const page = { brandId: req.brandId, pageToken: req.pageToken, limit: pageSize(req.pageSize) };
    const { changes, nextPageToken } = await listBudgetChanges(this.deps.store.pool, page);
    return { changes: changes.map(budgetChangeProto), nextPageToken };
  }
}
