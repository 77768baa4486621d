import { create } from "@bufbuild/protobuf";
import { anyPack, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Validator } from "@bufbuild/protovalidate";
import type { ConnectError, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  AlreadyExistsError,
  assertBrand,
  canSeeBrand,
  DomainError,
  NotFoundError,
  principalOf,
  type Principal,
  FailedPreconditionError,
  InvalidArgumentError,
  pageSize,
  requestId,
  requestLogger,
  toConnectError,
  validate,
  type FieldViolation,
  type Logger,
} from "@adbudget/kit";
import {
  RecordSpendRequestSchema,
  RecordSpendResponseSchema,
  RecordSpendResultSchema,
  type BudgetService,
  type RecordSpendRequest,
  type RecordSpendResponse,
  type RecordSpendResult,
} from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { StatusSchema } from "@adbudget/proto/google/rpc/status_pb.js";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import type { BrandDirectory, BrandInfo } from "./brand-directory.js";
import type { CampaignDirectory } from "./campaign-directory.js";
import type { BudgetStore } from "./budget-store.js";
import { findSpend, type StoredSpend } from "./ledger-reads.js";
import { listBudgetChanges } from "./budget-changes.js";
import { budgetChangeProto, budgetProto, budgetStatus, periodProto, spendProto } from "./proto-mapping.js";
import { bodyDifference, type SpendInput, type SpendWriter } from "./spend-writer.js";
import type { ZoneLocks } from "./zone-locks.js";

/** How far in the future `occurred_at` may be (clock skew of ad servers). */
export const MAX_FUTURE_MS = 5 * 60_000;
export const MAX_BATCH = 1000;
/** Spend before 1970 is no spend of ours: refused, so no period is ever computed for it. */
const MIN_OCCURRED_AT_MS = 0;

export interface BudgetServiceDeps {
  store: BudgetStore;
  writer: SpendWriter;
  brands: BrandDirectory;
  zones: ZoneLocks;
  /** Checks campaign -> brand; absent when no campaign service is configured. */
  campaigns?: CampaignDirectory;
  validator: Validator;
  logger: Logger;
  /** Told of every answered spend event (metrics). */
  onSpend?: (duplicate: boolean, amount: bigint) => void;
  now?: () => number;
}

/** A spend event ready for the writer, or one the ledger holds already (a retry). */
type Prepared = { input: SpendInput } | { stored: StoredSpend; brand: BrandInfo };

/**
 * adbudget.budget.v1.BudgetService. Request shapes are checked by the protovalidate interceptor
 * (RecordSpendBatch events one by one, here, so a bad event fails alone); existence and time
 * rules here; money and periods in the store and the spend writer.
 */
export class BudgetServiceImpl implements ServiceImpl<typeof BudgetService> {
  private readonly now: () => number;

  constructor(private readonly deps: BudgetServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The zone a brand's periods are in: its locked zone once it has spend, else its current one. */
  private async zoneOf(brand: BrandInfo): Promise<string> {
    return (await this.deps.zones.lockedZone(brand.id)) ?? brand.timeZone;
  }

  async setBudget(req: { brandId: string; dailyLimitMicros?: bigint; monthlyLimitMicros?: bigint }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    const brand = await this.deps.brands.get(req.brandId);
    const now = this.now();
    const limits = { daily: req.dailyLimitMicros ?? null, monthly: req.monthlyLimitMicros ?? null };
    const actor = { principal: principalOf(ctx)?.sub ?? "", requestId: requestId(ctx) };
    const r = await this.deps.store.setBudget(brand.id, limits, await this.zoneOf(brand), now, actor);
    requestLogger(ctx, this.deps.logger).info(
      { brandId: brand.id, daily: limits.daily?.toString() ?? null, monthly: limits.monthly?.toString() ?? null },
      "budget set",
    );
    return { budget: budgetProto(r.budget), status: budgetStatus(brand, r, now) };
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
    return { status: budgetStatus(brand, await this.deps.store.status(brand.id, await this.zoneOf(brand), now), now) };
  }

  async recordSpend(req: RecordSpendRequest, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    return this.record(await this.prepare(req, "", principalOf(ctx)), ctx.signal);
  }

  async recordSpendBatch(req: { events: RecordSpendRequest[] }, ctx: HandlerContext) {
    if (req.events.length === 0 || req.events.length > MAX_BATCH) {
      throw new InvalidArgumentError([{ field: "events", description: `must hold 1 to ${MAX_BATCH} events` }]);
    }
    // A batch with one event of a brand outside the caller's brands is refused whole.
    for (const e of req.events) assertBrand(ctx, e.brandId);
    const id = requestId(ctx);
    const principal = principalOf(ctx);
    // Validate and resolve every event first; valid ones are submitted together, so they share
    // one transaction of the group commit. Each event succeeds or fails on its own.
    const results = await Promise.all(
      req.events.map(async (e, i): Promise<RecordSpendResult> => {
        const path = `events[${i}].`;
        try {
          const response = await this.record(await this.prepare(e, path, principal), ctx.signal);
          return create(RecordSpendResultSchema, { response: create(RecordSpendResponseSchema, response) });
        } catch (err) {
          const { error, internal } = toConnectError(prefixed(err, path), id);
          if (internal) requestLogger(ctx, this.deps.logger).error({ err }, "batch event failed");
          return create(RecordSpendResultSchema, { error: statusOf(error) });
        }
      }),
    );
    return { results };
  }

  /** Writes a prepared event (or answers the stored one) and the brand's status after it. */
  private async record(p: Prepared, signal?: AbortSignal): Promise<Omit<RecordSpendResponse, "$typeName">> {
    const now = this.now();
    if ("stored" in p) {
      this.deps.onSpend?.(true, p.stored.amount);
      const status = await this.deps.store.status(p.brand.id, await this.zoneOf(p.brand), now);
      return { duplicate: true, event: spendProto(p.stored), status: budgetStatus(p.brand, status, now) };
    }
    const outcome = await this.deps.writer.submit(p.input, signal);
    this.deps.onSpend?.(outcome.duplicate, outcome.event.amount);
    const brand = await this.deps.brands.get(p.input.brandId);
    return { duplicate: outcome.duplicate, event: spendProto(outcome.event), status: budgetStatus(brand, outcome, now) };
  }

  async listSpendEvents(req: {
    brandId: string;
    campaignId: string;
    startTime?: Timestamp;
    endTime?: Timestamp;
    pageSize: number;
    pageToken: string;
  }, ctx: HandlerContext) {
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

  async listBudgetPeriods(req: { brandId: string; kind: PeriodKind; pageSize: number; pageToken: string }, ctx: HandlerContext) {
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
    const { changes, nextPageToken } = await listBudgetChanges(this.deps.store.pool, { brandId: req.brandId, pageToken: req.pageToken, limit: pageSize(req.pageSize) });
    return { changes: changes.map(budgetChangeProto), nextPageToken };
  }

  /**
   * Checks one event and resolves what the writer needs. Shape first (nothing malformed can be
   * in the ledger); then, if any other rule refuses it (time, brand, campaign), the ledger is
   * asked whether it holds the event already: a retry of a recorded event is a duplicate before
   * anything else is checked (its campaign may have been deleted since, for example), so a
   * client never drops an event that was counted.
   */
  private async prepare(req: RecordSpendRequest, path: string, principal: Principal | undefined): Promise<Prepared> {
    const violations: FieldViolation[] = path === "" ? [] : validate(this.deps.validator, RecordSpendRequestSchema, req, path);
    if (violations.length > 0) throw new InvalidArgumentError(violations);
    try {
      return { input: await this.check(req, path, principal) };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const stored = (await findSpend(this.deps.store.pool, [{ brandId: req.brandId, eventId: req.eventId }])).values().next().value;
      if (stored === undefined) throw err;
      const brand = await this.deps.brands.get(req.brandId).catch(() => undefined);
      if (brand === undefined) throw err;
      const differs = bodyDifference(
        { amount: req.amountMicros, campaignId: req.campaignId, occurredAtGiven: req.occurredAt !== undefined, occurredAtMs: req.occurredAt ? timestampMs(req.occurredAt) : 0 },
        stored,
      );
      if (differs.length > 0) {
        throw new AlreadyExistsError(`event_id ${JSON.stringify(req.eventId)} was already recorded for this brand with a different ${differs.join(", ")}: nothing was changed`);
      }
      return { stored, brand };
    }
  }

  /** The rules beyond shape: time window, brand, campaign ownership, the brand's locked zone. */
  private async check(req: RecordSpendRequest, path: string, principal: Principal | undefined): Promise<SpendInput> {
    const now = this.now();
    const occurredAtMs = req.occurredAt ? timestampMs(req.occurredAt) : now;
    if (occurredAtMs > now + MAX_FUTURE_MS) {
      throw new InvalidArgumentError([{ field: `${path}occurred_at`, description: "may not be more than 5 minutes in the future" }]);
    }
    if (occurredAtMs < MIN_OCCURRED_AT_MS) {
      throw new InvalidArgumentError([{ field: `${path}occurred_at`, description: "may not be before 1970-01-01T00:00:00Z" }]);
    }
    const brand = await this.deps.brands.get(req.brandId);
    if (this.deps.campaigns !== undefined) {
      const owner = await this.deps.campaigns.brandOf(req.campaignId);
      if (owner !== brand.id) {
        // Only a caller that may see the other brand learns the campaign exists there.
        if (!canSeeBrand(principal, owner)) throw new NotFoundError("campaign", req.campaignId);
        throw new FailedPreconditionError(`campaign ${JSON.stringify(req.campaignId)} belongs to another brand`);
      }
    }
    return {
      eventId: req.eventId,
      brandId: brand.id,
      campaignId: req.campaignId,
      amount: req.amountMicros,
      occurredAtMs,
      occurredAtGiven: req.occurredAt !== undefined,
      timeZone: await this.deps.zones.lock(brand.id),
      brandArchived: brand.archived,
    };
  }
}

/** An event's own field violations carry its path in the batch (`events[3].amount_micros`). */
function prefixed(err: unknown, path: string): unknown {
  if (!(err instanceof InvalidArgumentError) || err.violations.every((v) => v.field.startsWith(path))) return err;
  return new InvalidArgumentError(err.violations.map((v) => (v.field.startsWith(path) ? v : { ...v, field: path + v.field })));
}

/** A ConnectError as a google.rpc.Status, field violations included. */
function statusOf(error: ConnectError) {
  return create(StatusSchema, {
    code: error.code,
    message: error.rawMessage,
    details: error.findDetails(BadRequestSchema).map((d) => anyPack(BadRequestSchema, d)),
  });
}
