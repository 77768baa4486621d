import type pg from "pg";
import { GroupCommit, inTransaction, InvalidArgumentError, type Logger, type Now } from "@adbudget/kit";
import { transition } from "./period-rules.js";
import { writePeriodEvents, type PeriodChange } from "./events.js";
import { findSpend, type CurrentPeriod, type StoredSpend } from "./ledger-reads.js";
import { answerBatch, planBatch, type BatchResult } from "./spend-batch.js";
import { crossedThresholds, thresholdOf, writeThresholdEvents, type ThresholdReached } from "./thresholds.js";
import { writeCapEvents } from "./campaign-caps.js";
import { applySpend, type AddedPeriod } from "./spend-statement.js";

/** A validated spend event, with the zone its brand's spend is accounted in. */
export interface SpendInput {
  eventId: string;
  brandId: string;
  campaignId: string;
  amount: bigint;
  occurredAtMs: number;
  /**
   * False when the caller left `occurred_at` out (it defaulted to the time of the call): a retry
   * is then compared with the original on amount and campaign only, since its own default
   * differs from the first call's.
   */
  occurredAtGiven: boolean;
  timeZone: string;
  brandArchived: boolean;
  /** Who reported it: its caller's `sub` ("" with authentication off). */
  reportedBy: string;
}

export interface SpendOutcome {
  duplicate: boolean;
  event: StoredSpend;
  /** The brand's current day and month after the batch. */
  day: CurrentPeriod;
  month: CurrentPeriod;
}

export interface SpendWriterOptions {
  /** Most events in one transaction. */
  maxBatch?: number;
  /** Transactions in flight at once. */
  concurrency?: number;
  /** Queue length that justifies one more concurrent transaction (default 64). */
  parallelBacklog?: number;
  subjectPrefix: string;
  /** Called after a commit that wrote outbox rows. */
  onEvents?: () => void;
  /** "Now" for the ledger's recorded_at and the events (the app's clock). */
  now: Now;
}

/** SQLSTATE 22003: a period total would leave the int64 range. */
const OUT_OF_RANGE = "22003";

/**
 * Group commit for the spend ledger. Concurrent RecordSpend calls queue here; whenever a
 * transaction slot is free, everything queued (up to `maxBatch`) goes into one transaction of
 * a handful of set-based statements (unnest arrays, named prepared statements). At low load a
 * call waits for nobody; under load, batches grow and round trips are shared.
 *
 * Exactness: the fact insert (key: brand, event id) and the running totals are one transaction;
 * totals are incremented under their row locks, taken in a fixed order (brand, kind, start) so
 * concurrent batches cannot deadlock on them. A deadlock or serialization failure (a retried
 * event id in two batches at once) retries the whole batch.
 *
 * Isolation between callers: events that share a transaction succeed or fail on their own
 * merits. A data error (SQLSTATE class 22 or 54: a value PostgreSQL refuses, a total that would
 * overflow int64) splits the batch in halves, retried apart, until the event that causes it fails
 * alone with INVALID_ARGUMENT; the others are recorded.
 */
export class SpendWriter {
  private readonly commits: GroupCommit<SpendInput, SpendOutcome>;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly options: SpendWriterOptions,
  ) {
    this.commits = new GroupCommit({
      name: "spend batch",
      logger,
      flush: (inputs) => this.flush(inputs),
      maxBatch: options.maxBatch ?? 1000,
      concurrency: options.concurrency ?? 2,
      parallelBacklog: options.parallelBacklog,
      refused: (err, input) => this.refused(err, input),
    });
  }

  private now(): number {
    return this.options.now();
  }

  /**
   * Queues one event for the next transaction; resolves with its outcome, rejects with its error.
   * An event whose call's deadline passed before its batch formed is not written: nobody waits
   * for its answer, and the caller's retry with the same id will write it. (A shutdown or a
   * canceled call still writes what is queued: it drains.)
   */
  submit(input: SpendInput, signal?: AbortSignal): Promise<SpendOutcome> {
    return this.commits.submit(input, signal);
  }

  /** Queues the events of one call; resolves with one outcome (or the event's own error) per input, in order. */
  submitAll(inputs: SpendInput[], signal?: AbortSignal): Promise<(SpendOutcome | Error)[]> {
    return this.commits.submitAll(inputs, signal);
  }

  /** The answer of an event the database refused alone (GroupCommit isolated it). */
  private refused(err: unknown, input: SpendInput): Error {
    const code = err instanceof Error && "code" in err ? err.code : undefined;
    this.logger.info({ code, eventId: input.eventId, brandId: input.brandId }, "spend event refused by the database");
    if (code === OUT_OF_RANGE) {
      const description =
        "would take a running total (a period of the brand, or the campaign's life) past the int64 range";
      return new InvalidArgumentError([{ field: "amount_micros", description }]);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  /** One transaction for a batch; returns one outcome (or the event's own error) per input, in order. */
  private async flush(inputs: SpendInput[]): Promise<(SpendOutcome | Error)[]> {
    const now = this.now();
    const recordedAt = new Date(now);
    const plan = planBatch(inputs);
    const prefix = this.options.subjectPrefix;
    const { result, events } = await inTransaction(this.pool, async (client) => {
      const applied = await applySpend(client, plan, new Map(inputs.map((e) => [e.brandId, e.timeZone])), recordedAt);
      const skipped = new Set(applied.skipped);
      const fresh = new Set(plan.keys.filter((_, i) => !skipped.has(i)));
      const changes = crossings(applied.added);
      await writePeriodEvents(client, prefix, changes, now);
      const alerts = await writeThresholdEvents(client, prefix, thresholdsCrossed(applied.added), now);
      const capEvents = [
        ...applied.capsReached.map((c) => ({ ...c, exhausted: true, cause: "spend" as const })),
        ...applied.lifetimesReached.map((c) => ({ ...c, day: null, exhausted: true, cause: "spend" as const })),
      ];
      const caps = await writeCapEvents(client, prefix, capEvents, now);
      const originals = await findSpend(
        client,
        plan.unique.filter((_, i) => skipped.has(i)),
      );
      const flagged = new Set(plan.keys.filter((_, i) => applied.outsideFlight.has(i)));
      const result: BatchResult = { fresh, originals, current: applied.current, recordedAt, flagged };
      return { result, events: changes.length + alerts + caps };
    });
    if (events > 0) this.options.onEvents?.();
    return answerBatch(inputs, plan, result);
  }
}

/** The alert thresholds the batch's spend crossed, per period it added to. */
function thresholdsCrossed(added: AddedPeriod[]): ThresholdReached[] {
  const out: ThresholdReached[] = [];
  for (const p of added) {
    if (p.alertPercents.length === 0 || p.limit === null) continue;
    for (const percent of crossedThresholds(p.spent - p.added, p.spent, p.limit, p.alertPercents)) {
      const { brandId, kind, start: periodStart, spent, limit } = p;
      const threshold = thresholdOf(limit, percent);
      out.push({ brandId, kind, periodStart, percent, threshold, spent, limit, cause: "spend" });
    }
  }
  return out;
}

/** The periods a batch took to or past their limit (each publishes one exhausted event). */
function crossings(added: AddedPeriod[]): PeriodChange[] {
  const changes: PeriodChange[] = [];
  for (const p of added) {
    const figures = { spent: p.spent, limit: p.limit };
    if (transition(p.exhausted, figures) === "exhausted") {
      const { brandId, kind, start: periodStart } = p;
      changes.push({ brandId, kind, periodStart, type: "exhausted", ...figures, cause: "spend" });
    }
  }
  return changes;
}
