import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema, timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { Validator } from "@bufbuild/protovalidate";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import {
  AlreadyExistsError,
  assertBrand,
  canEncodeInJson,
  canSeeBrand,
  dateViolation,
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
  type DateLike,
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
import type { BudgetStatus } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import type { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { StatusSchema } from "@adbudget/proto/google/rpc/status_pb.js";
import type { BrandDirectory, BrandInfo } from "./brand-directory.js";
import type { CampaignDirectory } from "./campaign-directory.js";
import type { BudgetStore } from "./budget-store.js";
import { findSpend, type StoredSpend } from "./ledger-reads.js";
import { listBudgetChanges } from "./budget-changes.js";
import { budgetPatch, type SetBudgetFields } from "./budget-patch.js";
import { formatDate, periodsOf } from "@adbudget/time";
import type { AlertWatch } from "./alert-watch.js";
import { RATE_WINDOW_MS } from "./forecast.js";
import { budgetChangeProto, budgetProto, budgetStatus, periodProto, spendProto } from "./proto-mapping.js";
import { bodyDifference } from "./spend-batch.js";
import type { SpendInput, SpendOutcome, SpendWriter } from "./spend-writer.js";
import type { ZoneLocks } from "./zone-locks.js";
import { usableZone } from "./runtime-zone.js";

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
  /** The WatchBudgetAlerts streams (absent: the RPC answers UNIMPLEMENTED, as in router tests). */
  alerts?: AlertWatch;
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
    return usableZone((await this.deps.zones.lockedZone(brand.id)) ?? brand.timeZone, brand.id);
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
    const actor = { principal: principalOf(ctx)?.sub ?? "", requestId: requestId(ctx) };
    const r = await this.deps.store.setBudget(brand.id, patch, await this.writeZoneOf(brand), this.now, actor);
    requestLogger(ctx, this.deps.logger).info(
      { brandId: brand.id, daily: r.budget.daily?.toString() ?? null, monthly: r.budget.monthly?.toString() ?? null, alerts: r.budget.alertPercents },
      "budget set",
    );
    return { budget: budgetProto(r.budget), status: budgetStatus(brand, r, r.asOfMs) };
  }

  /** The brand's alert thresholds as they are reached, from now on (alert-watch.ts). */
  async *watchBudgetAlerts(req: { brandId: string }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    await this.deps.brands.get(req.brandId);
    if (this.deps.alerts === undefined) throw new ConnectError("alerts are not wired in this process", Code.Unimplemented);
    for await (const alert of this.deps.alerts.watch(req.brandId, ctx.signal)) yield alert === undefined ? { subscribed: true } : { alert };
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
    const zone = await this.zoneOf(brand);
    const [periods, lastHour] = await Promise.all([
      this.deps.store.status(brand.id, zone, now),
      this.deps.store.spentBetween(brand.id, now - RATE_WINDOW_MS, now),
    ]);
    return { status: budgetStatus(brand, periods, now, { zone, lastHour }) };
  }

  async getCampaignSpend(req: { brandId: string; campaignId: string; day?: DateLike }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    const bad = req.day === undefined ? undefined : dateViolation(req.day, "day");
    if (bad !== undefined) throw new InvalidArgumentError([bad]);
    const brand = await this.deps.brands.get(req.brandId);
    const day = req.day === undefined ? periodsOf(this.now(), await this.zoneOf(brand)).day : req.day;
    const { spent, count, limit, exhausted } = await this.deps.store.campaignSpend(brand.id, req.campaignId, formatDate(day));
    return { brandId: brand.id, campaignId: req.campaignId, day, spentMicros: spent, eventCount: count, limitMicros: limit ?? undefined, exhausted };
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
    const now = this.now();
    // Batch-wide, not per event: each brand, campaign and zone is looked up once, the valid
    // events go to the writer as one group (one transaction of the group commit), and each
    // brand's status is built once and shared by its events' answers. Each event still succeeds
    // or fails on its own.
    const prepared = await this.prepareAll(req.events, principal);
    const fresh = prepared.flatMap((p, i) => (p instanceof Error || !("input" in p) ? [] : [{ i, input: p.input }]));
    const written = await this.deps.writer.submitAll(fresh.map((f) => f.input), ctx.signal);
    const outcomes: (Prepared | SpendOutcome | Error)[] = [...prepared];
    fresh.forEach((f, k) => (outcomes[f.i] = written[k]!));
    // Each brand's status once: from its last event's outcome (the writer read the brand's
    // current day and month in that transaction: the latest, should the group have been split
    // across transactions), or from the store for a brand with retries only.
    const last = new Map<string, Prepared | SpendOutcome>();
    for (const o of outcomes) {
      if (o instanceof Error) continue;
      const brandId = "stored" in o ? o.brand.id : (o as SpendOutcome).event.brandId;
      const before = last.get(brandId);
      if (before === undefined || "stored" in before || !("stored" in o)) last.set(brandId, o);
    }
    const statuses = new Map<string, BudgetStatus | Error>();
    const loads = [...last].map(async ([brandId, o]) => {
      try {
        const brand = "stored" in o ? o.brand : await this.deps.brands.get(brandId);
        const periods = "stored" in o ? await this.deps.store.status(brand.id, await this.zoneOf(brand), now) : (o as SpendOutcome);
        statuses.set(brandId, budgetStatus(brand, periods, now));
      } catch (err) {
        statuses.set(brandId, err instanceof Error ? err : new Error(String(err)));
      }
    });
    await Promise.all(loads);
    const results = outcomes.map((o, i): RecordSpendResult => {
      try {
        if (o instanceof Error) throw o;
        const stored = "stored" in o ? o.stored : (o as SpendOutcome).event;
        const duplicate = "stored" in o || (o as SpendOutcome).duplicate;
        const status = statuses.get(stored.brandId)!;
        if (status instanceof Error) throw status;
        this.deps.onSpend?.(duplicate, stored.amount);
        return create(RecordSpendResultSchema, { response: create(RecordSpendResponseSchema, { duplicate, event: spendProto(stored), status }) });
      } catch (err) {
        const { error, internal } = toConnectError(prefixed(err, `events[${i}].`), id);
        if (internal) requestLogger(ctx, this.deps.logger).error({ err }, "batch event failed");
        return create(RecordSpendResultSchema, { error: rpcStatus(error) });
      }
    });
    return { results };
  }

  /**
   * `prepare` for a batch: shapes checked per event (synchronously), then each distinct brand,
   * campaign and zone resolved once for the whole batch, then every event checked against them.
   */
  private async prepareAll(events: RecordSpendRequest[], principal: Principal | undefined): Promise<(Prepared | Error)[]> {
    const valid = events.map((e, i) => {
      const violations = validate(this.deps.validator, RecordSpendRequestSchema, e, `events[${i}].`);
      return violations.length > 0 ? new InvalidArgumentError(violations) : undefined;
    });
    // Warm the directories once per distinct id; each event then reads them from memory.
    const brands = new Set<string>();
    const campaigns = new Set<string>();
    events.forEach((e, i) => {
      if (valid[i] !== undefined) return;
      brands.add(e.brandId);
      campaigns.add(e.campaignId);
    });
    await Promise.all([
      ...[...brands].map((b) => this.deps.brands.get(b).then((brand) => this.deps.zones.lock(brand.id)).catch(() => undefined)),
      ...(this.deps.campaigns ? [...campaigns].map((c) => this.deps.campaigns!.brandOf(c).catch(() => undefined)) : []),
    ]);
    const asError = (err: unknown) => (err instanceof Error ? err : new Error(String(err)));
    const out: (Prepared | Error)[] = new Array(events.length);
    const slow: Promise<void>[] = [];
    events.forEach((e, i) => {
      if (valid[i] !== undefined) return void (out[i] = valid[i]);
      const path = `events[${i}].`;
      try {
        const input = this.checkCached(e, path, principal);
        if (input !== undefined) return void (out[i] = { input });
      } catch (err) {
        // A rule refused it: it may still be a retry of a recorded event (the async path asks the ledger).
        if (!(err instanceof DomainError)) return void (out[i] = asError(err));
      }
      slow.push(this.resolve(e, path, principal).then((p) => void (out[i] = p), (err: unknown) => void (out[i] = asError(err))));
    });
    await Promise.all(slow);
    return out;
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
      const input = this.checkCached(req, path, principal);
      if (input !== undefined) return { input };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      // Refused by a rule: the async path asks the ledger whether it is a retry of a recorded event.
    }
    return this.resolve(req, path, principal);
  }

  /** `prepare` after the shape check. */
  private async resolve(req: RecordSpendRequest, path: string, principal: Principal | undefined): Promise<Prepared> {
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
    const occurredAtMs = this.occurredAt(req, path);
    const brand = await this.deps.brands.get(req.brandId);
    if (this.deps.campaigns !== undefined) assertOwner(req, brand, await this.deps.campaigns.brandOf(req.campaignId), principal);
    return spendInput(req, brand, occurredAtMs, await this.deps.zones.lock(brand.id));
  }

  /**
   * `check` from memory alone: the same rules, answered synchronously when the brand, the
   * campaign's owner and the locked zone are all cached (the steady state of an ad server's
   * traffic); undefined when one is not, and the caller takes the async path.
   */
  private checkCached(req: RecordSpendRequest, path: string, principal: Principal | undefined): SpendInput | undefined {
    const occurredAtMs = this.occurredAt(req, path);
    const brand = this.deps.brands.peek(req.brandId);
    if (brand === undefined) return undefined;
    if (this.deps.campaigns !== undefined) {
      const owner = this.deps.campaigns.peek(req.campaignId);
      if (owner === undefined) return undefined;
      assertOwner(req, brand, owner, principal);
    }
    const zone = this.deps.zones.peek(brand.id);
    return zone === undefined ? undefined : spendInput(req, brand, occurredAtMs, zone);
  }

  /** The event's time, checked: not too far in the future (ad servers' clock skew), not before 1970. */
  private occurredAt(req: RecordSpendRequest, path: string): number {
    const now = this.now();
    const occurredAtMs = req.occurredAt ? timestampMs(req.occurredAt) : now;
    if (occurredAtMs > now + MAX_FUTURE_MS) {
      throw new InvalidArgumentError([{ field: `${path}occurred_at`, description: "may not be more than 5 minutes in the future" }]);
    }
    if (occurredAtMs < MIN_OCCURRED_AT_MS) {
      throw new InvalidArgumentError([{ field: `${path}occurred_at`, description: "may not be before 1970-01-01T00:00:00Z" }]);
    }
    return occurredAtMs;
  }
}

/** The campaign must be the brand's. Only a caller that may see the other brand learns the campaign exists there. */
function assertOwner(req: RecordSpendRequest, brand: BrandInfo, owner: string, principal: Principal | undefined): void {
  if (owner === brand.id) return;
  if (!canSeeBrand(principal, owner)) throw new NotFoundError("campaign", req.campaignId);
  throw new FailedPreconditionError(`campaign ${JSON.stringify(req.campaignId)} belongs to another brand`);
}

function spendInput(req: RecordSpendRequest, brand: BrandInfo, occurredAtMs: number, timeZone: string): SpendInput {
  return {
    eventId: req.eventId,
    brandId: brand.id,
    campaignId: req.campaignId,
    amount: req.amountMicros,
    occurredAtMs,
    occurredAtGiven: req.occurredAt !== undefined,
    // A zone this runtime cannot use fails this event alone, before the writer's shared transaction.
    timeZone: usableZone(timeZone, brand.id),
    brandArchived: brand.archived,
  };
}

/** An event's own field violations carry its path in the batch (`events[3].amount_micros`). */
function prefixed(err: unknown, path: string): unknown {
  if (!(err instanceof InvalidArgumentError) || err.violations.every((v) => v.field.startsWith(path))) return err;
  return new InvalidArgumentError(err.violations.map((v) => (v.field.startsWith(path) ? v : { ...v, field: path + v.field })));
}

/**
 * A ConnectError as a google.rpc.Status, its details included (field violations, retry info):
 * each packed in an Any, as the error would carry them alone. A detail whose type the JSON
 * codec does not know (ANSWER_REGISTRY) is left out: it would make the whole batch answer
 * unencodable over Connect JSON, every other event's result with it.
 */
function rpcStatus(error: ConnectError) {
  const details = error.details.flatMap((d) => {
    const typeName = "desc" in d ? d.desc.typeName : d.type;
    if (!canEncodeInJson(typeName)) return [];
    return [create(AnySchema, { typeUrl: `type.googleapis.com/${typeName}`, value: "desc" in d ? toBinary(d.desc, create(d.desc, d.value)) : d.value })];
  });
  return create(StatusSchema, { code: error.code, message: error.rawMessage, details });
}
