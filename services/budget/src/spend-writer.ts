import { Code, ConnectError } from "@connectrpc/connect";
import type pg from "pg";
import { deadlineExceeded } from "@adbudget/kit";
import { AlreadyExistsError, inTransaction, InvalidArgumentError, isDataError, isTransient, type Logger } from "@adbudget/kit";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, periodsOf, type CalendarDate } from "@adbudget/time";
import { micros, transition } from "./period-rules.js";
import { writePeriodEvents, type PeriodChange } from "./events.js";
import { currentPeriods, findSpend, spendKey, type CurrentPeriod, type Kind, type StoredSpend } from "./ledger-reads.js";

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

interface Pending {
  input: SpendInput;
  /** The caller's call: aborted at its deadline, when it is canceled, or at shutdown. */
  signal: AbortSignal | undefined;
  resolve: (o: SpendOutcome) => void;
  reject: (e: unknown) => void;
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
   * Queues one event for the next transaction. An event whose call's deadline passed before its
   * batch formed is not written: nobody waits for its answer, and the caller's retry with the same
   * id will write it. (A shutdown or a canceled call still writes what is queued: it drains.)
   */
  submit(input: SpendInput, signal?: AbortSignal): Promise<SpendOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, signal, resolve, reject });
      // Let every call of this tick join the batch (RecordSpendBatch submits many at once).
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
        if (!pastDeadline(p.signal)) return true;
        p.reject(deadlineExceeded());
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
        batch.forEach((p, i) => {
          const o = outcomes[i]!;
          if (o instanceof Error) p.reject(o);
          else p.resolve(o);
        });
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== undefined && CONFLICT.has(code) && attempt < MAX_CONFLICT_ATTEMPTS) {
          this.logger.debug({ code, attempt }, "spend batch conflict, retrying");
          continue;
        }
        if (isDataError(err)) return this.isolate(batch, err);
        if (!isTransient(err)) this.logger.error({ err, size: batch.length }, "spend batch failed");
        for (const p of batch) p.reject(err);
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
    batch[0]!.reject(refused);
  }

  /** One transaction for a batch; returns one outcome (or the event's own error) per input, in order. */
  private async flush(inputs: SpendInput[]): Promise<(SpendOutcome | Error)[]> {
    const now = this.now();
    const recordedAt = new Date(now);
    const plan = planBatch(inputs);
    const { fresh, changes, originals, current } = await inTransaction(this.pool, async (client) => {
      const fresh = await insertFacts(client, plan, recordedAt);
      const changes = await addToTotals(client, plan, fresh, recordedAt);
      await writePeriodEvents(client, this.options.subjectPrefix, changes, now);
      const originals = await findSpend(client, plan.unique.filter((e) => !fresh.has(key(e))));
      const current = await currentPeriods(client, new Map(inputs.map((e) => [e.brandId, e.timeZone])), now);
      return { fresh, changes, originals, current };
    });
    if (changes.length > 0) this.options.onEvents?.();
    return answer(inputs, plan, fresh, originals, current, recordedAt);
  }
}

const key = (e: { brandId: string; eventId: string }) => spendKey(e.brandId, e.eventId);

interface BatchPlan {
  /** One input per (brand, event id): the first occurrence, sorted by brand then event id. */
  unique: SpendInput[];
  /** The local day and month of each unique input. */
  periods: Map<string, { day: CalendarDate; month: CalendarDate }>;
  /** Index of the first occurrence of each key in the inputs. */
  first: Map<string, number>;
}

/** Step 1, no I/O: the first occurrence of each event wins; each is attributed to its periods. */
function planBatch(inputs: SpendInput[]): BatchPlan {
  const first = new Map<string, number>();
  inputs.forEach((e, i) => {
    if (!first.has(key(e))) first.set(key(e), i);
  });
  const unique = [...first.values()].map((i) => inputs[i]!).sort((a, b) => compare(a.brandId, b.brandId) || compare(a.eventId, b.eventId));
  const periods = new Map(unique.map((e) => [key(e), periodsOf(e.occurredAtMs, e.timeZone)]));
  return { unique, periods, first };
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Step 2: inserts the facts; returns the keys really inserted (the others are stored already). */
async function insertFacts(client: pg.ClientBase, plan: BatchPlan, recordedAt: Date): Promise<Set<string>> {
  const { unique, periods } = plan;
  const inserted = await client.query<{ brand_id: string; event_id: string }>({
    name: "spend-insert",
    text: `insert into spend_events (event_id, brand_id, campaign_id, amount_micros, occurred_at, recorded_at, day, month, brand_archived)
           select * from unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::timestamptz[], $6::timestamptz[], $7::date[], $8::date[], $9::bool[])
           on conflict (brand_id, event_id) do nothing
           returning brand_id::text, event_id`,
    values: [
      unique.map((e) => e.eventId),
      unique.map((e) => e.brandId),
      unique.map((e) => e.campaignId),
      unique.map((e) => e.amount.toString()),
      unique.map((e) => new Date(e.occurredAtMs)),
      unique.map(() => recordedAt),
      unique.map((e) => formatDate(periods.get(key(e))!.day)),
      unique.map((e) => formatDate(periods.get(key(e))!.month)),
      unique.map((e) => e.brandArchived),
    ],
  });
  return new Set(inserted.rows.map((r) => spendKey(r.brand_id, r.event_id)));
}

/**
 * Step 3: adds what was really inserted to the running totals, per (brand, kind, period), in
 * lock order. A period row created here takes the budget's limit, read under a share lock of the
 * budget row so that a concurrent SetBudget is either seen or waits. Returns the periods this
 * batch exhausted.
 */
async function addToTotals(client: pg.ClientBase, plan: BatchPlan, fresh: Set<string>, recordedAt: Date): Promise<PeriodChange[]> {
  const totals = new Map<string, { brandId: string; kind: Kind; start: string; amount: bigint; count: number }>();
  for (const e of plan.unique) {
    if (!fresh.has(key(e))) continue;
    const p = plan.periods.get(key(e))!;
    for (const [kind, start] of [[PeriodKind.DAY, formatDate(p.day)], [PeriodKind.MONTH, formatDate(p.month)]] as const) {
      const k = `${e.brandId}|${kind}|${start}`;
      const t = totals.get(k) ?? { brandId: e.brandId, kind, start, amount: 0n, count: 0 };
      t.amount += e.amount;
      t.count += 1;
      totals.set(k, t);
    }
  }
  if (totals.size === 0) return [];
  const rows = [...totals.values()].sort((a, b) => compare(a.brandId, b.brandId) || a.kind - b.kind || compare(a.start, b.start));
  const upserted = await client.query<{ brand_id: string; kind: number; start: string; spent: string; lim: string | null; exhausted: boolean }>({
    name: "periods-add",
    text: `insert into budget_periods as p (brand_id, kind, period_start, spent_micros, event_count, limit_micros, updated_at)
           select u.brand_id, u.kind, u.period_start, u.amount, u.cnt,
                  (select case u.kind when ${PeriodKind.DAY} then b.daily_limit_micros else b.monthly_limit_micros end
                   from budgets b where b.brand_id = u.brand_id for share), $6
           from unnest($1::uuid[], $2::int2[], $3::date[], $4::bigint[], $5::bigint[]) with ordinality
                as u(brand_id, kind, period_start, amount, cnt, ord)
           order by u.ord
           on conflict (brand_id, kind, period_start) do update
             set spent_micros = p.spent_micros + excluded.spent_micros,
                 event_count = p.event_count + excluded.event_count,
                 updated_at = excluded.updated_at
           returning brand_id::text, kind, period_start::text as start, spent_micros::text as spent,
                     limit_micros::text as lim, exhausted`,
    values: [
      rows.map((r) => r.brandId),
      rows.map((r) => r.kind),
      rows.map((r) => r.start),
      rows.map((r) => r.amount.toString()),
      rows.map((r) => r.count),
      recordedAt,
    ],
  });
  const changes: PeriodChange[] = [];
  for (const r of upserted.rows) {
    const figures = { spent: BigInt(r.spent), limit: micros(r.lim) };
    if (transition(r.exhausted, figures) === "exhausted") {
      changes.push({ brandId: r.brand_id, kind: r.kind as Kind, periodStart: r.start, type: "exhausted", ...figures, cause: "spend" });
    }
  }
  return changes;
}

/**
 * Step 4, no I/O: one answer per input. The first occurrence of a newly inserted event is the
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
): (SpendOutcome | Error)[] {
  return inputs.map((e, i) => {
    const k = key(e);
    const firstOfFresh = fresh.has(k);
    const stored = firstOfFresh ? storedFrom(inputs[plan.first.get(k)!]!, recordedAt, plan.periods.get(k)!) : originals.get(k);
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

function storedFrom(e: SpendInput, recordedAt: Date, p: { day: CalendarDate; month: CalendarDate }): StoredSpend {
  return {
    eventId: e.eventId,
    brandId: e.brandId,
    campaignId: e.campaignId,
    amount: e.amount,
    occurredAt: new Date(e.occurredAtMs),
    recordedAt,
    day: formatDate(p.day),
    month: formatDate(p.month),
    brandArchived: e.brandArchived,
  };
}

/** Whether a call's signal ended because its deadline passed (Connect aborts it with that code). */
function pastDeadline(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true && signal.reason instanceof ConnectError && signal.reason.code === Code.DeadlineExceeded;
}
