import type pg from "pg";
import { isTransient, type Logger } from "@adbudget/kit";
import { formatDate, periodsOf, type CalendarDate } from "@adbudget/time";
import { micros, transition, type PeriodFigures } from "./period-rules.js";
import { writePeriodEvents, type PeriodChange } from "./events.js";

/** A validated spend event, with its brand's zone resolved. */
export interface SpendInput {
  eventId: string;
  brandId: string;
  campaignId: string;
  amount: bigint;
  occurredAtMs: number;
  timeZone: string;
  brandArchived: boolean;
}

/** A ledger row as stored. */
export interface StoredSpend {
  eventId: string;
  brandId: string;
  campaignId: string;
  amount: bigint;
  occurredAt: Date;
  recordedAt: Date;
  day: string;
  month: string;
  brandArchived: boolean;
}

export interface CurrentPeriod extends PeriodFigures {
  kind: 1 | 2;
  start: string;
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

/**
 * Group commit for the spend ledger. Concurrent RecordSpend calls queue here; whenever a
 * transaction slot is free, everything queued (up to `maxBatch`) goes into one transaction of
 * a handful of set-based statements (unnest arrays, named prepared statements). At low load a
 * call waits for nobody; under load, batches grow and round trips are shared.
 *
 * Exactness: the fact insert (event_id primary key) and the running totals are one transaction;
 * totals are incremented under their row locks, taken in a fixed order (brand, kind, start) so
 * concurrent batches cannot deadlock on them. A deadlock or serialization failure (a retried
 * event id in two batches at once) retries the whole batch.
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

  submit(input: SpendInput): Promise<SpendOutcome> {
    return new Promise((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
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
      const batch = this.queue.splice(0, maxBatch);
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
        batch.forEach((p, i) => p.resolve(outcomes[i]!));
        return;
      } catch (err) {
        const code = (err as { code?: string }).code;
        if ((code === "40P01" || code === "40001") && attempt < 5) {
          this.logger.debug({ code, attempt }, "spend batch conflict, retrying");
          continue;
        }
        if (!isTransient(err)) this.logger.error({ err, size: batch.length }, "spend batch failed");
        for (const p of batch) p.reject(err);
        return;
      }
    }
  }

  /** One transaction for a batch; returns one outcome per input, in order. */
  private async flush(inputs: SpendInput[]): Promise<SpendOutcome[]> {
    const now = this.now();
    const recordedAt = new Date(now);
    // The first occurrence of an id in the batch is the one written; later ones are duplicates.
    const first = new Map<string, number>();
    inputs.forEach((e, i) => {
      if (!first.has(e.eventId)) first.set(e.eventId, i);
    });
    const unique = [...first.values()].map((i) => inputs[i]!).sort((a, b) => (a.eventId < b.eventId ? -1 : a.eventId > b.eventId ? 1 : 0));
    const periods = unique.map((e) => periodsOf(e.occurredAtMs, e.timeZone));
    const uniqueIndex = new Map(unique.map((e, i) => [e.eventId, i]));

    const client = await this.pool.connect();
    try {
      await client.query("begin");
      const inserted = await client.query<{ event_id: string }>({
        name: "spend-insert",
        text: `insert into spend_events (event_id, brand_id, campaign_id, amount_micros, occurred_at, recorded_at, day, month, brand_archived)
               select * from unnest($1::text[], $2::uuid[], $3::uuid[], $4::bigint[], $5::timestamptz[], $6::timestamptz[], $7::date[], $8::date[], $9::bool[])
               on conflict (event_id) do nothing
               returning event_id`,
        values: [
          unique.map((e) => e.eventId),
          unique.map((e) => e.brandId),
          unique.map((e) => e.campaignId),
          unique.map((e) => e.amount.toString()),
          unique.map((e) => new Date(e.occurredAtMs)),
          unique.map(() => recordedAt),
          periods.map((p) => formatDate(p.day)),
          periods.map((p) => formatDate(p.month)),
          unique.map((e) => e.brandArchived),
        ],
      });
      const fresh = new Set(inserted.rows.map((r) => r.event_id));

      // Running totals of what was really inserted, per (brand, kind, period), in lock order.
      const totals = new Map<string, { brandId: string; kind: 1 | 2; start: string; amount: bigint; count: number }>();
      unique.forEach((e, i) => {
        if (!fresh.has(e.eventId)) return;
        for (const [kind, start] of [[1, formatDate(periods[i]!.day)], [2, formatDate(periods[i]!.month)]] as const) {
          const key = `${e.brandId}|${kind}|${start}`;
          const t = totals.get(key) ?? { brandId: e.brandId, kind, start, amount: 0n, count: 0 };
          t.amount += e.amount;
          t.count += 1;
          totals.set(key, t);
        }
      });
      const rows = [...totals.values()].sort((a, b) =>
        a.brandId < b.brandId ? -1 : a.brandId > b.brandId ? 1 : a.kind - b.kind || (a.start < b.start ? -1 : a.start > b.start ? 1 : 0),
      );
      const changes: PeriodChange[] = [];
      if (rows.length > 0) {
        const upserted = await client.query<{ brand_id: string; kind: number; start: string; spent: string; lim: string | null; exhausted: boolean }>({
          name: "periods-add",
          text: `insert into budget_periods as p (brand_id, kind, period_start, spent_micros, event_count, limit_micros, updated_at)
                 select u.brand_id, u.kind, u.period_start, u.amount, u.cnt,
                        case u.kind when 1 then b.daily_limit_micros else b.monthly_limit_micros end, $6
                 from unnest($1::uuid[], $2::int2[], $3::date[], $4::bigint[], $5::bigint[]) with ordinality
                      as u(brand_id, kind, period_start, amount, cnt, ord)
                 left join budgets b on b.brand_id = u.brand_id
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
        for (const r of upserted.rows) {
          const figures = { spent: BigInt(r.spent), limit: micros(r.lim) };
          if (transition(r.exhausted, figures) === "exhausted") {
            changes.push({ brandId: r.brand_id, kind: r.kind as 1 | 2, periodStart: r.start, type: "exhausted", ...figures, cause: "spend" });
          }
        }
        if (changes.length > 0) {
          await client.query({
            name: "periods-exhaust",
            text: `update budget_periods p set exhausted = true, exhausted_at = $4
                   from unnest($1::uuid[], $2::int2[], $3::date[]) as u(brand_id, kind, period_start)
                   where p.brand_id = u.brand_id and p.kind = u.kind and p.period_start = u.period_start`,
            values: [changes.map((c) => c.brandId), changes.map((c) => c.kind), changes.map((c) => c.periodStart), recordedAt],
          });
          await writePeriodEvents(client, this.options.subjectPrefix, changes, now);
        }
      }

      // Originals of duplicates (retries, or the same id twice in this batch).
      const dupIds = inputs.filter((e, i) => !fresh.has(e.eventId) || first.get(e.eventId) !== i).map((e) => e.eventId);
      const originals = new Map<string, StoredSpend>();
      if (dupIds.length > 0) {
        const { rows: found } = await client.query<RawSpend>({
          name: "spend-originals",
          text: `${SELECT_SPEND} where event_id = any($1::text[])`,
          values: [[...new Set(dupIds)]],
        });
        for (const r of found) originals.set(r.event_id, toStoredSpend(r));
      }

      // Each brand's current day and month (in its zone, now), after this batch.
      const brands = new Map<string, string>();
      for (const e of inputs) brands.set(e.brandId, e.timeZone);
      const current = await currentPeriods(client, brands, now);
      await client.query("commit");
      if (changes.length > 0) this.options.onEvents?.();

      return inputs.map((e, i) => {
        const isFresh = fresh.has(e.eventId) && first.get(e.eventId) === i;
        const stored = isFresh ? storedFrom(e, recordedAt, periods[uniqueIndex.get(e.eventId)!]!) : originals.get(e.eventId);
        if (stored === undefined) throw new Error(`spend event ${e.eventId} neither inserted nor found`);
        const c = current.get(stored.brandId) ?? current.get(e.brandId)!;
        return { duplicate: !isFresh, event: stored, day: c.day, month: c.month };
      });
    } catch (err) {
      await client.query("rollback").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
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

export interface RawSpend {
  event_id: string;
  brand_id: string;
  campaign_id: string;
  amount: string;
  occurred_at: Date;
  recorded_at: Date;
  day: string;
  month: string;
  brand_archived: boolean;
}

export const SELECT_SPEND = `select event_id, brand_id::text, campaign_id::text, amount_micros::text as amount, occurred_at,
  recorded_at, day::text, month::text, brand_archived from spend_events`;

export function toStoredSpend(r: RawSpend): StoredSpend {
  return {
    eventId: r.event_id,
    brandId: r.brand_id,
    campaignId: r.campaign_id,
    amount: BigInt(r.amount),
    occurredAt: r.occurred_at,
    recordedAt: r.recorded_at,
    day: r.day,
    month: r.month,
    brandArchived: r.brand_archived,
  };
}

/**
 * The current local day and month of each brand (zone given), with spent and the limit in
 * force. A period without a row yet has spent 0.
 */
export async function currentPeriods(
  client: pg.ClientBase,
  zones: Map<string, string>,
  nowMs: number,
): Promise<Map<string, { day: CurrentPeriod; month: CurrentPeriod }>> {
  const keys: { brandId: string; kind: 1 | 2; start: string }[] = [];
  for (const [brandId, zone] of zones) {
    const p = periodsOf(nowMs, zone);
    keys.push({ brandId, kind: 1, start: formatDate(p.day) }, { brandId, kind: 2, start: formatDate(p.month) });
  }
  const { rows } = await client.query<{ brand_id: string; kind: number; start: string; spent: string; lim: string | null }>({
    name: "periods-current",
    text: `select u.brand_id::text, u.kind, u.period_start::text as start, coalesce(p.spent_micros, 0)::text as spent,
                  (case u.kind when 1 then b.daily_limit_micros else b.monthly_limit_micros end)::text as lim
           from unnest($1::uuid[], $2::int2[], $3::date[]) as u(brand_id, kind, period_start)
           left join budget_periods p on p.brand_id = u.brand_id and p.kind = u.kind and p.period_start = u.period_start
           left join budgets b on b.brand_id = u.brand_id`,
    values: [keys.map((k) => k.brandId), keys.map((k) => k.kind), keys.map((k) => k.start)],
  });
  const out = new Map<string, { day: CurrentPeriod; month: CurrentPeriod }>();
  for (const r of rows) {
    const period: CurrentPeriod = { kind: r.kind as 1 | 2, start: r.start, spent: BigInt(r.spent), limit: micros(r.lim) };
    const entry = out.get(r.brand_id) ?? ({} as { day: CurrentPeriod; month: CurrentPeriod });
    if (r.kind === 1) entry.day = period;
    else entry.month = period;
    out.set(r.brand_id, entry);
  }
  return out;
}
