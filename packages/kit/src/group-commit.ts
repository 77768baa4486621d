import { Code, ConnectError } from "@connectrpc/connect";
import { deadlineExceeded } from "./deadlines.js";
import { isDataError, isTransient } from "./errors.js";
import type { Logger } from "./logger.js";

/** What one transaction does with a batch: one outcome (or the item's own error) per item, in order. */
export type FlushBatch<T, R> = (items: T[]) => Promise<(R | Error)[]>;

export interface GroupCommitOptions<T, R> {
  /** Names the batches in logs ("spend batch"). */
  name: string;
  logger: Logger;
  /** One transaction for a batch. Throwing fails (or retries, or splits) the whole batch. */
  flush: FlushBatch<T, R>;
  /** Most items in one transaction. */
  maxBatch: number;
  /** Transactions in flight at once (default 1). */
  concurrency?: number;
  /** Queue length that justifies one more concurrent transaction (default 64). */
  parallelBacklog?: number;
  /**
   * The error of an item the database refused alone (a data error that splitting isolated);
   * by default the database's error itself.
   */
  refused?: (err: unknown, item: T) => Error;
}

/** SQLSTATEs that mean "the batch collided with another one": the whole batch is retried. */
const CONFLICT = new Set(["40P01", "40001"]);
const MAX_CONFLICT_ATTEMPTS = 5;

/**
 * The items of one call, answered together: one promise per call, not per item (a batch of 500
 * would otherwise cost 500 promises and their microtasks, which the spend profile showed as a
 * fifth of the batch path).
 */
interface Group<R> {
  outcomes: (R | Error)[];
  remaining: number;
  /** The caller's call: aborted at its deadline, when it is canceled, or at shutdown. */
  signal: AbortSignal | undefined;
  resolve: (outcomes: (R | Error)[]) => void;
}

/** One item of a group, waiting for its transaction. */
interface Pending<T, R> {
  item: T;
  group: Group<R>;
  index: number;
}

function settle<T, R>(p: Pending<T, R>, outcome: R | Error): void {
  p.group.outcomes[p.index] = outcome;
  if (--p.group.remaining === 0) p.group.resolve(p.group.outcomes);
}

/**
 * Group commit: concurrent callers queue their items here, and whenever a transaction slot is
 * free everything queued (up to `maxBatch`) goes to `flush` as one transaction. Every call of one
 * tick joins the same batch; at low load a call waits for nobody, under load batches grow and
 * round trips are shared. A second (third...) concurrent transaction starts only for a real
 * backlog: splitting a trickle into one-item transactions would cost a commit each, while waiting
 * for the running one lets the next batch grow.
 *
 * Isolation between callers, whose items share a transaction:
 * - a deadlock or serialization failure (40P01, 40001) retries the whole batch (5 attempts);
 * - a data error (SQLSTATE class 22 or 54: a value PostgreSQL refuses) splits the batch in
 *   halves, retried apart, until the item that causes it fails alone (`refused`) and the others
 *   are written;
 * - an item whose call's deadline passed before its batch formed is not written: nobody waits
 *   for its answer (a retry writes it). A canceled call or a shutdown still writes what is queued.
 */
export class GroupCommit<T, R> {
  private readonly queue: Pending<T, R>[] = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(private readonly options: GroupCommitOptions<T, R>) {}

  /** Queues one item; resolves with its outcome, rejects with its own error. */
  async submit(item: T, signal?: AbortSignal): Promise<R> {
    const [outcome] = await this.submitAll([item], signal);
    if (outcome === undefined) throw new Error(`${this.options.name}: no outcome for the item`);
    if (outcome instanceof Error) throw outcome;
    return outcome;
  }

  /** Queues the items of one call; resolves with one outcome (or the item's own error) per item, in order. */
  submitAll(items: T[], signal?: AbortSignal): Promise<(R | Error)[]> {
    if (items.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const outcomes = new Array<R | Error>(items.length);
      const group: Group<R> = { outcomes, remaining: items.length, signal, resolve };
      items.forEach((item, index) => this.queue.push({ item, group, index }));
      if (this.scheduled) return;
      // Let every call of this tick join the batch: one pump, after them.
      this.scheduled = true;
      queueMicrotask(() => {
        this.scheduled = false;
        this.pump();
      });
    });
  }

  /** Starts transactions while slots are free (see the class). */
  private pump(): void {
    const { maxBatch, concurrency = 1, parallelBacklog = 64 } = this.options;
    const slotFree = () => this.inFlight < concurrency && (this.inFlight === 0 || this.queue.length >= parallelBacklog);
    while (this.queue.length > 0 && slotFree()) {
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

  private async flushWithRetry(batch: Pending<T, R>[]): Promise<void> {
    const { name, logger } = this.options;
    for (let attempt = 1; ; attempt++) {
      try {
        const started = performance.now();
        const outcomes = await this.options.flush(batch.map((p) => p.item));
        logger.debug({ size: batch.length, ms: Math.round(performance.now() - started) }, `${name} committed`);
        batch.forEach((p, i) => settle(p, outcomes[i] ?? new Error(`${name}: no outcome for item ${i}`)));
        return;
      } catch (err) {
        const code = sqlState(err);
        if (code !== undefined && CONFLICT.has(code) && attempt < MAX_CONFLICT_ATTEMPTS) {
          logger.debug({ code, attempt }, `${name} conflict, retrying`);
          continue;
        }
        if (isDataError(err)) return this.isolate(batch, err);
        if (!isTransient(err)) logger.error({ err, size: batch.length }, `${name} failed`);
        const error = asError(err);
        for (const p of batch) settle(p, error);
        return;
      }
    }
  }

  /** A data error in a batch: halves are retried apart until the item that causes it is alone. */
  private async isolate(batch: Pending<T, R>[], err: unknown): Promise<void> {
    const [first] = batch;
    if (first === undefined) return;
    if (batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      this.options.logger.info({ size: batch.length }, `${this.options.name} refused by the database: splitting it`);
      await this.flushWithRetry(batch.slice(0, half));
      await this.flushWithRetry(batch.slice(half));
      return;
    }
    settle(first, this.refuse(err, first.item));
  }

  private refuse(err: unknown, item: T): Error {
    if (this.options.refused !== undefined) return this.options.refused(err, item);
    this.options.logger.warn({ err }, `${this.options.name}: an item was refused by the database`);
    return asError(err);
  }
}

/** The PostgreSQL SQLSTATE of a driver error, if it is one. */
function sqlState(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null || !("code" in err)) return undefined;
  return typeof err.code === "string" ? err.code : undefined;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Whether a call's signal ended because its deadline passed (Connect aborts it with that code). */
function pastDeadline(signal: AbortSignal | undefined): boolean {
  if (signal?.aborted !== true) return false;
  return signal.reason instanceof ConnectError && signal.reason.code === Code.DeadlineExceeded;
}
