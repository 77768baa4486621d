import { create } from "@bufbuild/protobuf";
import { anyPack, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Validator } from "@bufbuild/protovalidate";
import type { ConnectError, HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
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
  type RecordSpendResult,
} from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { StatusSchema } from "@adbudget/proto/google/rpc/status_pb.js";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import type { BrandDirectory } from "./brand-directory.js";
import type { CampaignDirectory } from "./campaign-directory.js";
import type { BudgetStore } from "./budget-store.js";
import { budgetProto, budgetStatus, periodProto, spendProto } from "./proto-mapping.js";
import type { SpendInput, SpendWriter } from "./spend-writer.js";

/** How far in the future `occurred_at` may be (clock skew of ad servers). */
export const MAX_FUTURE_MS = 5 * 60_000;
export const MAX_BATCH = 1000;

export interface BudgetServiceDeps {
  store: BudgetStore;
  writer: SpendWriter;
  brands: BrandDirectory;
  /** Checks campaign -> brand; absent when no campaign service is configured. */
  campaigns?: CampaignDirectory;
  validator: Validator;
  logger: Logger;
  /** Told of every answered spend event (metrics). */
  onSpend?: (duplicate: boolean, amount: bigint) => void;
  now?: () => number;
}

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

  async setBudget(req: { brandId: string; dailyLimitMicros?: bigint; monthlyLimitMicros?: bigint }, ctx: HandlerContext) {
    const brand = await this.deps.brands.get(req.brandId);
    const now = this.now();
    const limits = { daily: req.dailyLimitMicros ?? null, monthly: req.monthlyLimitMicros ?? null };
    const r = await this.deps.store.setBudget(brand.id, limits, brand.timeZone, now);
    requestLogger(ctx, this.deps.logger).info(
      { brandId: brand.id, daily: limits.daily?.toString() ?? null, monthly: limits.monthly?.toString() ?? null },
      "budget set",
    );
    return { budget: budgetProto(r.budget), status: budgetStatus(brand, r, now) };
  }

  async getBudget(req: { brandId: string }) {
    await this.deps.brands.get(req.brandId);
    return { budget: budgetProto(await this.deps.store.getBudget(req.brandId)) };
  }

  async getBudgetStatus(req: { brandId: string }) {
    const brand = await this.deps.brands.get(req.brandId);
    const now = this.now();
    return { status: budgetStatus(brand, await this.deps.store.status(brand.id, brand.timeZone, now), now) };
  }

  async recordSpend(req: RecordSpendRequest) {
    const input = await this.prepare(req, "");
    const outcome = await this.deps.writer.submit(input);
    this.deps.onSpend?.(outcome.duplicate, outcome.event.amount);
    const brand = await this.deps.brands.get(input.brandId);
    return {
      duplicate: outcome.duplicate,
      event: spendProto(outcome.event),
      status: budgetStatus(brand, outcome, this.now()),
    };
  }

  async recordSpendBatch(req: { events: RecordSpendRequest[] }, ctx: HandlerContext) {
    if (req.events.length === 0 || req.events.length > MAX_BATCH) {
      throw new InvalidArgumentError([{ field: "events", description: `must hold 1 to ${MAX_BATCH} events` }]);
    }
    const id = requestId(ctx);
    // Validate and resolve every event first; valid ones are submitted together, so they share
    // one transaction of the group commit.
    const prepared = await Promise.all(
      req.events.map((e, i) =>
        this.prepare(e, `events[${i}].`).then(
          (input) => ({ input }),
          (error: unknown) => ({ error }),
        ),
      ),
    );
    const results = await Promise.all(
      prepared.map(async (p): Promise<RecordSpendResult> => {
        try {
          if ("error" in p) throw p.error;
          const outcome = await this.deps.writer.submit(p.input);
          this.deps.onSpend?.(outcome.duplicate, outcome.event.amount);
          const brand = await this.deps.brands.get(p.input.brandId);
          return create(RecordSpendResultSchema, {
            response: create(RecordSpendResponseSchema, {
              duplicate: outcome.duplicate,
              event: spendProto(outcome.event),
              status: budgetStatus(brand, outcome, this.now()),
            }),
          });
        } catch (err) {
          const { error, internal } = toConnectError(err, id);
          if (internal) requestLogger(ctx, this.deps.logger).error({ err }, "batch event failed");
          return create(RecordSpendResultSchema, { error: statusOf(error) });
        }
      }),
    );
    return { results };
  }

  async listSpendEvents(req: {
    brandId: string;
    campaignId: string;
    startTime?: Timestamp;
    endTime?: Timestamp;
    pageSize: number;
    pageToken: string;
  }) {
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

  async listBudgetPeriods(req: { brandId: string; kind: PeriodKind; pageSize: number; pageToken: string }) {
    await this.deps.brands.get(req.brandId);
    const kind = req.kind === PeriodKind.DAY ? 1 : req.kind === PeriodKind.MONTH ? 2 : 0;
    const { periods, nextPageToken } = await this.deps.store.listPeriods({
      brandId: req.brandId,
      kind,
      pageToken: req.pageToken,
      limit: pageSize(req.pageSize),
    });
    return { periods: periods.map(periodProto), nextPageToken };
  }

  /** Checks one event (shape, time, brand) and resolves what the writer needs. */
  private async prepare(req: RecordSpendRequest, path: string): Promise<SpendInput> {
    const violations: FieldViolation[] = path === "" ? [] : validate(this.deps.validator, RecordSpendRequestSchema, req, path);
    const now = this.now();
    const occurredAtMs = req.occurredAt ? timestampMs(req.occurredAt) : now;
    if (occurredAtMs > now + MAX_FUTURE_MS) {
      violations.push({ field: `${path}occurred_at`, description: "may not be more than 5 minutes in the future" });
    }
    if (violations.length > 0) throw new InvalidArgumentError(violations);
    const brand = await this.deps.brands.get(req.brandId);
    if (this.deps.campaigns !== undefined) {
      const owner = await this.deps.campaigns.brandOf(req.campaignId);
      if (owner !== brand.id) {
        throw new FailedPreconditionError(`campaign ${JSON.stringify(req.campaignId)} belongs to another brand`);
      }
    }
    return {
      eventId: req.eventId,
      brandId: brand.id,
      campaignId: req.campaignId,
      amount: req.amountMicros,
      occurredAtMs,
      timeZone: brand.timeZone,
      brandArchived: brand.archived,
    };
  }
}

/** A ConnectError as a google.rpc.Status, field violations included. */
function statusOf(error: ConnectError) {
  return create(StatusSchema, {
    code: error.code,
    message: error.rawMessage,
    details: error.findDetails(BadRequestSchema).map((d) => anyPack(BadRequestSchema, d)),
  });
}

