import { Code, ConnectError } from "@connectrpc/connect";
import type pg from "pg";
import { deadlineExceeded } from "@adbudget/kit";
import { AlreadyExistsError, inTransaction, InvalidArgumentError, isDataError, isTransient, type Logger } from "@adbudget/kit";
import { addDays, formatDate, nextMonthStart, periodsOf, startOfDay, type CalendarDate } from "@adbudget/time";
import { transition } from "./period-rules.js";
import { writePeriodEvents, type PeriodChange } from "./events.js";
import { findSpend, spendKey, type CurrentPeriod, type StoredSpend } from "./ledger-reads.js";
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
}

export interface SpendOutcome {
  duplicate: boolean;
  event: StoredSpend;
  /** The brand's current day and month after the batch. */
  day: CurrentPeriod;
  month: CurrentPeriod;
}

/**
 * The events of one call (one for RecordSpend, up to 1000 for RecordSpendBatch), answered
 * together: one promise per call, not per event (a batch of 500 would otherwise cost 500
 * promises and their microtasks, which the profile showed as a fifth of the batch path).
 */
interface Group {
  outcomes: (SpendOutcome | Error)[];
  remaining: number;
  /** The caller's call: aborted at its deadline, when it is canceled, or at shutdown. */
  signal: AbortSignal | undefined;
  resolve: (o: (SpendOutcome | Error)[]) => void;
}

/** One event of a group, waiting for its transaction. */
interface Pending {
  input: SpendInput;
  group: Group;
  index: number;
}

function settle(p: Pending, outcome: SpendOutcome | Error): void {
  p.group.outcomes[p.index] = outcome;
  if (--p.group.remaining === 0) p.group.resolve(p.group.outcomes);
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
  now?: () => number;
}

/** SQLSTATEs that mean "the batch collided with another one": the whole batch is retried. */
const CONFLICT = new Set(["40P01", "40001"]);
const MAX_CONFLICT_ATTEMPTS = 5;
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
  private readonly queue: Pending[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly options: SpendWriterOptions,
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /**
   * Queues one event for the next transaction; resolves with its outcome, rejects with its error.
   * An event whose call's deadline passed before its batch formed is not written: nobody waits
   * for its answer, and the caller's retry with the same id will write it. (A shutdown or a
   * canceled call still writes what is queued: it drains.)
   */
  async submit(input: SpendInput, signal?: AbortSignal): Promise<SpendOutcome> {
    const [outcome] = await this.submitAll([input], signal);
    if (outcome instanceof Error) throw outcome;
    return outcome!;
  }

  /** Queues the events of one call; resolves with one outcome (or the event's own error) per input, in order. */
  submitAll(inputs: SpendInput[], signal?: AbortSignal): Promise<(SpendOutcome | Error)[]> {
    if (inputs.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const group: Group = { outcomes: new Array(inputs.length), remaining: inputs.length, signal, resolve };
      for (let i = 0; i < inputs.length; i++) this.queue.push({ input: inputs[i]!, group, index: i });
      // Let every call of this tick join the batch.
      if (!this.scheduled) {
        this.scheduled = true;
        queueMicrotask(() => {
          this.scheduled = false;
          this.pump();
        });
      }
    });
  }

  /**
   * Starts transactions while slots are free. A second (third...) concurrent transaction only
   * starts for a real backlog: splitting a trickle into many one-event transactions would cost a
   * commit each, while waiting for the running one lets the next batch grow.
   */
  private pump(): void {
    const maxBatch = this.options.maxBatch ?? 1000;
    const backlog = this.options.parallelBacklog ?? 64;
    while (
      this.queue.length > 0 &&
      this.inFlight < (this.options.concurrency ?? 2) &&
      (this.inFlight === 0 || this.queue.length >= backlog)
    ) {
      const batch = this.queue.splice(0, maxBatch).filter((p) => {
        if (!pastDeadline(p.group.signal)) return true;
        settle(p, deadlineExceeded());
        return false;
      });
      if (batch.length === 0) continue;
      this.inFlight++;
      void this.flushWithRetry(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async flushWithRetry(batch: Pending[]): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        const started = performance.now();
        const outcomes = await this.flush(batch.map((p) => p.input));
        this.logger.debug({ size: batch.length, ms: Math.round(performance.now() - started) }, "spend batch committed");
        batch.forEach((p, i) => settle(p, outcomes[i]!));
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== undefined && CONFLICT.has(code) && attempt < MAX_CONFLICT_ATTEMPTS) {
          this.logger.debug({ code, attempt }, "spend batch conflict, retrying");
          continue;
        }
        if (isDataError(err)) return this.isolate(batch, err);
        if (!isTransient(err)) this.logger.error({ err, size: batch.length }, "spend batch failed");
        const error = err instanceof Error ? err : new Error(String(err));
        for (const p of batch) settle(p, error);
        return;
      }
    }
  }

  /** A data error in a batch: halves are retried apart until the event that causes it is alone. */
  private async isolate(batch: Pending[], err: unknown): Promise<void> {
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      this.logger.info({ size: batch.length }, "spend batch refused by the database: splitting it to isolate the event");
      await this.flushWithRetry(batch.slice(0, half));
      await this.flushWithRetry(batch.slice(half));
      return;
    }
    const code = (err as { code?: string }).code;
    const refused =
      code === OUT_OF_RANGE
        ? new InvalidArgumentError([{ field: "amount_micros", description: "would take a period total of the brand past the int64 range" }])
        : err;
    this.logger.info({ code, eventId: batch[0]!.input.eventId, brandId: batch[0]!.input.brandId }, "spend event refused by the database");
    settle(batch[0]!, refused instanceof Error ? refused : new Error(String(refused)));
  }

  /** One transaction for a batch; returns one outcome (or the event's own error) per input, in order. */
  private async flush(inputs: SpendInput[]): Promise<(SpendOutcome | Error)[]> {
    const now = this.now();
    const recordedAt = new Date(now);
    const plan = planBatch(inputs);
    const { fresh, events, originals, current, flagged } = await inTransaction(this.pool, async (client) => {
      const applied = await applySpend(client, plan, new Map(inputs.map((e) => [e.brandId, e.timeZone])), recordedAt);
      const fresh = new Set(plan.keys);
      for (const i of applied.skipped) fresh.delete(plan.keys[i]!);
      const changes = crossings(applied.added);
      await writePeriodEvents(client, this.options.subjectPrefix, changes, now);
      const alerts = await writeThresholdEvents(client, this.options.subjectPrefix, thresholdsCrossed(applied.added), now);
      const caps = await writeCapEvents(
        client, this.options.subjectPrefix, applied.capsReached.map((c) => ({ ...c, exhausted: true, cause: "spend" as const })), now,
      );
      const originals = await findSpend(client, applied.skipped.map((i) => plan.unique[i]!));
      const flagged = new Set([...applied.outsideFlight].map((i) => plan.keys[i]!));
      return { fresh, events: changes.length + alerts + caps, originals, current: applied.current, flagged };
    });
    if (events > 0) this.options.onEvents?.();
    return answer(inputs, plan, fresh, originals, current, recordedAt, flagged);
  }
}

const key = (e: { brandId: string; eventId: string }) => spendKey(e.brandId, e.eventId);

interface BatchPlan {
  /** One input per (brand, event id): the first occurrence, sorted by brand then event id. */
  unique: SpendInput[];
  /** Per unique input (same order): its ledger key and its local day and month ("YYYY-MM-DD"). */
  keys: string[];
  days: string[];
  months: string[];
  /** The first instant after each one's day and month (epoch ms). */
  dayEnds: number[];
  monthEnds: number[];
  /** Index of the first occurrence of each key in the inputs. */
  first: Map<string, number>;
  /** Position of each key in `keys` (built when first needed). */
  index?: Map<string, number>;
}

/**
 * Step 1, no I/O: the first occurrence of each event wins; each is attributed to its periods.
 * Everything per event is computed here once (keys, dates as strings), not in every step.
 */
function planBatch(inputs: SpendInput[]): BatchPlan {
  const first = new Map<string, number>();
  const keyOf: string[] = new Array(inputs.length);
  for (let i = 0; i < inputs.length; i++) {
    const k = key(inputs[i]!);
    keyOf[i] = k;
    if (!first.has(k)) first.set(k, i);
  }
  const order = [...first.values()].sort((a, b) => compare(inputs[a]!.brandId, inputs[b]!.brandId) || compare(inputs[a]!.eventId, inputs[b]!.eventId));
  const unique = order.map((i) => inputs[i]!);
  const days: string[] = new Array(unique.length);
  const months: string[] = new Array(unique.length);
  const dayEnds: number[] = new Array(unique.length);
  const monthEnds: number[] = new Array(unique.length);
  // Consecutive events of one brand mostly share a day: format it once per span.
  let last: { day: CalendarDate; month: CalendarDate } | undefined;
  let lastZone = "";
  let lastDay = "";
  let lastMonth = "";
  let lastDayEnd = 0;
  let lastMonthEnd = 0;
  unique.forEach((e, j) => {
    const p = periodsOf(e.occurredAtMs, e.timeZone);
    if (p !== last || e.timeZone !== lastZone) {
      last = p;
      lastZone = e.timeZone;
      lastDay = formatDate(p.day);
      lastMonth = formatDate(p.month);
      lastDayEnd = startOfDay(addDays(p.day, 1), e.timeZone);
      lastMonthEnd = startOfDay(nextMonthStart(p.month), e.timeZone);
    }
    days[j] = lastDay;
    months[j] = lastMonth;
    dayEnds[j] = lastDayEnd;
    monthEnds[j] = lastMonthEnd;
  });
  return { unique, keys: order.map((i) => keyOf[i]!), days, months, dayEnds, monthEnds, first };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The periods a batch took to or past their limit (each publishes one exhausted event). */
/** The alert thresholds the batch's spend crossed, per period it added to. */
function thresholdsCrossed(added: AddedPeriod[]): ThresholdReached[] {
  const out: ThresholdReached[] = [];
  for (const p of added) {
    if (p.alertPercents.length === 0 || p.limit === null) continue;
    for (const percent of crossedThresholds(p.spent - p.added, p.spent, p.limit, p.alertPercents)) {
      out.push({ brandId: p.brandId, kind: p.kind, periodStart: p.start, percent, threshold: thresholdOf(p.limit, percent), spent: p.spent, limit: p.limit, cause: "spend" });
    }
  }
  return out;
}

function crossings(added: AddedPeriod[]): PeriodChange[] {
  const changes: PeriodChange[] = [];
  for (const p of added) {
    const figures = { spent: p.spent, limit: p.limit };
    if (transition(p.exhausted, figures) === "exhausted") {
      changes.push({ brandId: p.brandId, kind: p.kind, periodStart: p.start, type: "exhausted", ...figures, cause: "spend" });
    }
  }
  return changes;
}

/**
 * Step 3, no I/O: one answer per input. The first occurrence of a newly inserted event is the
 * event as recorded; every other occurrence is compared with the stored original: the same body
 * is a duplicate (the original is answered), a different one ALREADY_EXISTS.
 */
function answer(
  inputs: SpendInput[],
  plan: BatchPlan,
  fresh: Set<string>,
  originals: Map<string, StoredSpend>,
  current: Map<string, { day: CurrentPeriod; month: CurrentPeriod }>,
  recordedAt: Date,
  /** Keys of the new events recorded outside their campaign's flight. */
  flagged: Set<string>,
): (SpendOutcome | Error)[] {
  return inputs.map((e, i) => {
    const k = key(e);
    const firstOfFresh = fresh.has(k);
    const stored = firstOfFresh ? storedFrom(inputs[plan.first.get(k)!]!, recordedAt, periodsByKey(plan, k), flagged.has(k)) : originals.get(k);
    if (stored === undefined) return new Error(`spend event ${e.eventId} of brand ${e.brandId} neither inserted nor found`);
    const isNew = firstOfFresh && plan.first.get(k) === i;
    if (!isNew) {
      const differs = bodyDifference(e, stored);
      if (differs.length > 0) {
        return new AlreadyExistsError(
          `event_id ${JSON.stringify(e.eventId)} was already recorded for this brand with a different ${differs.join(", ")}: nothing was changed`,
        );
      }
    }
    const c = current.get(e.brandId)!;
    return { duplicate: !isNew, event: stored, day: c.day, month: c.month };
  });
}

/** The fields in which a retry differs from the stored event (empty: the same event). */
export function bodyDifference(e: Pick<SpendInput, "amount" | "campaignId" | "occurredAtGiven" | "occurredAtMs">, stored: StoredSpend): string[] {
  const out: string[] = [];
  if (e.amount !== stored.amount) out.push("amount_micros");
  if (e.campaignId !== stored.campaignId) out.push("campaign_id");
  if (e.occurredAtGiven && e.occurredAtMs !== stored.occurredAt.getTime()) out.push("occurred_at");
  return out;
}

/** The day and month strings of a unique event (by key). */
function periodsByKey(plan: BatchPlan, k: string): { day: string; month: string } {
  plan.index ??= new Map(plan.keys.map((key, j) => [key, j]));
  const j = plan.index.get(k)!;
  return { day: plan.days[j]!, month: plan.months[j]! };
}

function storedFrom(e: SpendInput, recordedAt: Date, p: { day: string; month: string }, outsideFlight: boolean): StoredSpend {
  return {
    eventId: e.eventId,
    brandId: e.brandId,
    campaignId: e.campaignId,
    amount: e.amount,
    occurredAt: new Date(e.occurredAtMs),
    recordedAt,
    day: p.day,
    month: p.month,
    brandArchived: e.brandArchived,
    outsideFlight,
  };
}

/** Whether a call's signal ended because its deadline passed (Connect aborts it with that code). */
function pastDeadline(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason instanceof ConnectError && signal.reason.code === Code.DeadlineExceeded;
}
