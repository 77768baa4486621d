import { timestampMs } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import type { Validator } from "@bufbuild/protovalidate";
import {
  DomainError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  validate,
  type Now,
  type Principal,
} from "@adbudget/kit";
import { canSeeBrand } from "@adbudget/topology";
import {
  RecordSpendRequestSchema,
  type RecordSpendRequest,
} from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { BrandDirectory, BrandInfo } from "./brand-directory.js";
import type { CampaignDirectory } from "./campaign-directory.js";
import { findSpend, type StoredSpend } from "./ledger-reads.js";
import { usableZone } from "./runtime-zone.js";
import { alreadyRecorded, bodyDifference } from "./spend-batch.js";
import type { SpendInput } from "./spend-writer.js";
import type { ZoneLocks } from "./zone-locks.js";

/** How far in the future `occurred_at` may be (clock skew of ad servers). */
export const MAX_FUTURE_MS = 5 * 60_000;
/** Spend before 1970 is no spend of ours: refused, so no period is ever computed for it. */
const MIN_OCCURRED_AT_MS = 0;

/** Who sends the events (undefined with authentication off): decides what a refusal may reveal. */
type Caller = Principal | undefined;

/** A spend event checked by the intake: one for the writer, or one the ledger holds already (a retry). */
export type PreparedSpend =
  { kind: "write"; input: SpendInput } | { kind: "stored"; stored: StoredSpend; brand: BrandInfo };

/** An event of a batch after the intake: prepared, or refused with its own error. */
export type PreparedEvent = PreparedSpend | { kind: "error"; error: Error };

export interface SpendIntakeDeps {
  validator: Validator;
  brands: BrandDirectory;
  zones: ZoneLocks;
  /** Checks campaign -> brand; absent when no campaign service is configured. */
  campaigns: CampaignDirectory | undefined;
  /** Where the ledger is read for retries of recorded events. */
  pool: pg.Pool;
  now: Now;
}

/**
 * The checks a spend event passes before the spend writer: its shape, its time, its brand, its
 * campaign's owner, its brand's locked zone. Apart from the handlers so that RecordSpend and
 * RecordSpendBatch run the very same rules, and the batch looks each brand, campaign and zone
 * up once. A retry of a recorded event is answered from the ledger before any rule but shape
 * refuses it (its campaign may have been deleted since, say), so a client never drops an event
 * that was counted.
 */
export class SpendIntake {
  constructor(private readonly deps: SpendIntakeDeps) {}

  /** One event whose shape the protovalidate interceptor checked (RecordSpend). */
  async prepare(req: RecordSpendRequest, principal: Caller): Promise<PreparedSpend> {
    const input = this.fromMemory(req, "", principal);
    return input === undefined ? this.resolve(req, "", principal) : { kind: "write", input };
  }

  /**
   * The events of a batch: shapes checked per event (synchronously, each with its path in the
   * batch), then each distinct brand, campaign and zone resolved once, then every event checked
   * against them. Each event succeeds or fails on its own.
   */
  async prepareAll(events: RecordSpendRequest[], principal: Caller): Promise<PreparedEvent[]> {
    const shapes = events.map((e, i) => validate(this.deps.validator, RecordSpendRequestSchema, e, `events[${i}].`));
    await this.warm(events.filter((_, i) => shapes[i]?.length === 0));
    // From memory where it can (no promise per event: a batch is up to 1000), the rest async.
    const out = new Array<PreparedEvent>(events.length);
    const slow: Promise<void>[] = [];
    events.forEach((e, i) => {
      const violations = shapes[i] ?? [];
      if (violations.length > 0) return void (out[i] = { kind: "error", error: new InvalidArgumentError(violations) });
      const path = `events[${i}].`;
      let input: SpendInput | undefined;
      try {
        input = this.fromMemory(e, path, principal);
      } catch (err) {
        return void (out[i] = refused(err));
      }
      if (input !== undefined) return void (out[i] = { kind: "write", input });
      const settle = (p: PreparedEvent) => void (out[i] = p);
      slow.push(this.resolve(e, path, principal).then(settle, (err: unknown) => settle(refused(err))));
    });
    await Promise.all(slow);
    return out;
  }

  /** Looks each distinct brand (and its zone) and campaign of a batch up once; each event meets its own failures. */
  private async warm(events: RecordSpendRequest[]): Promise<void> {
    const { brands, zones, campaigns } = this.deps;
    const brandIds = new Set(events.map((e) => e.brandId));
    const campaignIds = campaigns === undefined ? [] : [...new Set(events.map((e) => e.campaignId))];
    await Promise.all([
      ...[...brandIds].map((b) =>
        brands
          .get(b)
          .then((brand) => zones.lock(brand.id))
          .catch(() => undefined),
      ),
      ...campaignIds.map((c) => campaigns?.brandOf(c).catch(() => undefined)),
    ]);
  }

  /**
   * The event checked from memory alone, when the brand, the campaign's owner and the locked zone
   * are all cached (the steady state of an ad server's traffic); undefined when one is not, or
   * when a rule refused it (it may still be a retry: `resolve` asks the ledger).
   */
  private fromMemory(req: RecordSpendRequest, path: string, principal: Caller): SpendInput | undefined {
    try {
      return this.checkCached(req, path, principal);
    } catch (err) {
      if (err instanceof DomainError) return undefined;
      throw err;
    }
  }

  /** The rules, with lookups; a refused event is answered from the ledger if it was recorded before. */
  private async resolve(req: RecordSpendRequest, path: string, principal: Caller): Promise<PreparedSpend> {
    try {
      return { kind: "write", input: await this.check(req, path, principal) };
    } catch (err) {
      if (!(err instanceof DomainError)) throw err;
      const found = await findSpend(this.deps.pool, [{ brandId: req.brandId, eventId: req.eventId }]);
      const stored = found.values().next().value;
      if (stored === undefined) throw err;
      const brand = await this.deps.brands.get(req.brandId).catch(() => undefined);
      if (brand === undefined) throw err;
      const occurredAtGiven = req.occurredAt !== undefined;
      const occurredAtMs = req.occurredAt ? timestampMs(req.occurredAt) : 0;
      const retry = { amount: req.amountMicros, campaignId: req.campaignId, occurredAtGiven, occurredAtMs };
      const differs = bodyDifference(retry, stored);
      if (differs.length > 0) throw alreadyRecorded(req.eventId, differs);
      return { kind: "stored", stored, brand };
    }
  }

  /** The rules beyond shape: time window, brand, campaign ownership, the brand's locked zone. */
  private async check(req: RecordSpendRequest, path: string, principal: Caller): Promise<SpendInput> {
    const occurredAtMs = this.occurredAt(req, path);
    const brand = await this.deps.brands.get(req.brandId);
    if (this.deps.campaigns !== undefined) {
      assertOwner(req, brand, await this.deps.campaigns.brandOf(req.campaignId), principal);
    }
    return spendInput(req, brand, occurredAtMs, await this.deps.zones.lock(brand.id), principal);
  }

  /** `check` from memory alone: undefined when the brand, the campaign's owner or the zone is not cached. */
  private checkCached(req: RecordSpendRequest, path: string, principal: Caller): SpendInput | undefined {
    const occurredAtMs = this.occurredAt(req, path);
    const brand = this.deps.brands.peek(req.brandId);
    if (brand === undefined) return undefined;
    if (this.deps.campaigns !== undefined) {
      const owner = this.deps.campaigns.peek(req.campaignId);
      if (owner === undefined) return undefined;
      assertOwner(req, brand, owner, principal);
    }
    const zone = this.deps.zones.peek(brand.id);
    return zone === undefined ? undefined : spendInput(req, brand, occurredAtMs, zone, principal);
  }

  /** The event's time, checked: not too far in the future (ad servers' clock skew), not before 1970. */
  private occurredAt(req: RecordSpendRequest, path: string): number {
    const now = this.deps.now();
    const occurredAtMs = req.occurredAt ? timestampMs(req.occurredAt) : now;
    const field = `${path}occurred_at`;
    if (occurredAtMs > now + MAX_FUTURE_MS) {
      throw new InvalidArgumentError([{ field, description: "may not be more than 5 minutes in the future" }]);
    }
    if (occurredAtMs < MIN_OCCURRED_AT_MS) {
      throw new InvalidArgumentError([{ field, description: "may not be before 1970-01-01T00:00:00Z" }]);
    }
    return occurredAtMs;
  }
}

/** The campaign must be the brand's. Only a caller that may see the other brand learns the campaign exists there. */
function assertOwner(req: RecordSpendRequest, brand: BrandInfo, owner: string, principal: Caller): void {
  if (owner === brand.id) return;
  if (!canSeeBrand(principal, owner)) throw new NotFoundError("campaign", req.campaignId);
  throw new FailedPreconditionError(`campaign ${JSON.stringify(req.campaignId)} belongs to another brand`);
}

function refused(err: unknown): PreparedEvent {
  return { kind: "error", error: err instanceof Error ? err : new Error(String(err)) };
}

function spendInput(
  req: RecordSpendRequest,
  brand: BrandInfo,
  occurredAtMs: number,
  timeZone: string,
  principal: Caller,
): SpendInput {
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
    reportedBy: principal?.sub ?? "",
  };
}
