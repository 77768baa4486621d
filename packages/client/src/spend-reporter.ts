import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { BudgetService, type RecordSpendResult } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { safely } from "./guard.js";
import { JitterBackoff } from "./backoff.js";
import { spendRequest, stampEvent, type SpendEvent, type StampedEvent } from "./spend-event.js";
import { SendQueue, type Pending } from "./send-queue.js";
import { Spool } from "./spool.js";
import { TokenCache } from "./tokens.js";
import { createAdbudgetTransport, type TransportOptions } from "./transport.js";

/** Options of a SpendReporter (defaults in docs/sdk.md). */
export interface SpendReporterOptions extends Omit<TransportOptions, "baseUrl"> {
  budgetUrl: string;
  /** Events per RecordSpendBatch (default 500; the service takes at most 1000). */
  maxBatch?: number;
  /** How long the first event of a batch waits for others (default 50 ms). */
  lingerMs?: number;
  /** Batches in flight at once (default 4). */
  maxInFlight?: number;
  /** Unsettled events held at most (default 100 000: ~30 MB). */
  maxBuffered?: number;
  /** When full: `reject` the new event (default; `report` answers false) or `drop-oldest`. */
  overflow?: "reject" | "drop-oldest";
  /** A directory: accepted events survive a crash of the process (docs/sdk.md). */
  spoolDir?: string;
  /** fsync each spooled event: survives a crash of the machine too (one fsync per report). */
  fsync?: boolean;
  /** The time source that stamps events without `occurredAtMs` (default the wall clock). */
  now?: () => number;
  /** An event the service refused for good (its code is not one to retry). */
  onRejected?: (event: StampedEvent, code: Code, message: string) => void;
  /** An accepted event dropped by the `drop-oldest` policy. */
  onDrop?: (event: StampedEvent) => void;
}

export interface SpendReporterStats {
  accepted: number;
  /** Events read back from the spool at start. */
  recovered: number;
  acknowledged: number;
  duplicates: number;
  rejected: number;
  dropped: number;
  /** Sends of events again after a retryable failure. */
  retries: number;
  /** Accepted, not yet settled (queued, waiting for a retry, or in flight). */
  unsettled: number;
  inFlight: number;
}

/** Codes worth sending again with the same ids: the event did not count, or may not have. */
const RETRYABLE = new Set([
  Code.Unavailable,
  Code.DeadlineExceeded,
  Code.ResourceExhausted,
  Code.Aborted,
  Code.Internal,
  Code.Unknown,
  Code.Unauthenticated,
]);
/** Retry backoff: 100 ms doubling to 10 s, full jitter (a fleet comes back spread out). */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 10_000;

/**
 * Reports spend without ever making the ad server wait (docs/sdk.md): `report` validates,
 * stamps, spools and queues; batches leave by size or after the linger; every event is sent
 * until the service acknowledges or refuses it for good, always with the same id and body, so
 * the service's once-per-id rule makes the whole path exactly once.
 */
export class SpendReporter {
  private readonly client: Client<typeof BudgetService>;
  private readonly tokens: TokenCache;
  private readonly queue: SendQueue;
  private readonly spool: Spool | undefined;
  private readonly backoff = new JitterBackoff(RETRY_MIN_MS, RETRY_MAX_MS);
  private readonly now: () => number;
  private readonly maxBatch: number;
  private readonly lingerMs: number;
  private readonly maxInFlight: number;
  private readonly maxBuffered: number;
  private inFlight = 0;
  private lingerTimer: NodeJS.Timeout | undefined;
  private pausedUntil = 0;
  private pauseTimer: NodeJS.Timeout | undefined;
  /** Halves of a refused batch, sent before the queue (each alone). */
  private readonly splits: Pending[][] = [];
  private closing: Promise<{ unsettled: number }> | undefined;
  private closed = false;
  /** After close: nothing is sent any more (what is left stays in the spool). */
  private stopped = false;
  private readonly counts = {
    accepted: 0,
    recovered: 0,
    acknowledged: 0,
    duplicates: 0,
    rejected: 0,
    dropped: 0,
    retries: 0,
  };

  constructor(private readonly options: SpendReporterOptions) {
    this.now = options.now ?? Date.now;
    this.maxBatch = Math.min(1000, Math.max(1, options.maxBatch ?? 500));
    this.lingerMs = options.lingerMs ?? 50;
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 4);
    this.maxBuffered = options.maxBuffered ?? 100_000;
    this.tokens = options.tokens instanceof TokenCache ? options.tokens : new TokenCache(options.tokens);
    this.client = createClient(
      BudgetService,
      createAdbudgetTransport({ ...options, tokens: this.tokens, baseUrl: options.budgetUrl }),
    );
    this.queue = new SendQueue(() => this.pump(true));
    if (options.spoolDir !== undefined) {
      const { spool, recovered } = Spool.open(options.spoolDir, { fsync: options.fsync });
      this.spool = spool;
      for (const r of recovered) this.queue.push(r.event, r.segment);
      this.counts.recovered = recovered.length;
      if (recovered.length > 0) this.pump(true);
    }
  }

  /**
   * Accepts `event` (true), or answers false when the reporter is closed or full under the
   * `reject` policy. Throws a RangeError for an event the service could never record. Never
   * waits on the network; with a spool, the event is written before this returns.
   */
  report(event: SpendEvent): boolean {
    const stamped = stampEvent(event, this.now());
    if (this.closed) return false;
    if (this.queue.unsettled >= this.maxBuffered) {
      const oldest = this.options.overflow === "drop-oldest" ? this.queue.dropOldest() : undefined;
      if (oldest === undefined) return false;
      this.counts.dropped++;
      this.settle(oldest);
      safely(() => this.options.onDrop?.(oldest.event));
    }
    let segment = -1;
    if (this.spool !== undefined) {
      try {
        segment = this.spool.append(stamped);
      } catch {
        return false; // not on disk (a full disk): not accepted
      }
    }
    this.queue.push(stamped, segment);
    this.counts.accepted++;
    if (this.queue.ready >= this.maxBatch) this.pump();
    else this.armLinger();
    return true;
  }

  /** A partial batch leaves `lingerMs` from now unless it fills first. */
  private armLinger(): void {
    this.lingerTimer ??= setTimeout(() => {
      this.lingerTimer = undefined;
      this.pump(true);
    }, this.lingerMs);
  }

  /** Resolves when every event accepted before the call is acknowledged or rejected (at once after close). */
  flush(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    const done = this.queue.settledUpToNow();
    this.pump(true);
    return done;
  }

  /**
   * Stops accepting, flushes for at most `timeoutMs`, and stops; a flush still waiting then is
   * released. Answers how many events were left unsettled: with a spool they are sent after the
   * next start; without one they are lost. Calling it again answers the same.
   */
  close(timeoutMs = 10_000): Promise<{ unsettled: number }> {
    this.closing ??= this.shutDown(timeoutMs);
    return this.closing;
  }

  private async shutDown(timeoutMs: number): Promise<{ unsettled: number }> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.flush(), new Promise((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    clearTimeout(this.lingerTimer);
    clearTimeout(this.pauseTimer);
    this.stopped = true;
    this.queue.stop();
    this.spool?.close();
    return { unsettled: this.queue.unsettled };
  }

  stats(): SpendReporterStats {
    return { ...this.counts, unsettled: this.queue.unsettled, inFlight: this.inFlight };
  }

  /** Sends what may leave: split batches first, then full batches, or (`force`) any queued event, up to maxInFlight. */
  private pump(force = false): void {
    if (this.stopped) return;
    const now = Date.now();
    if (now < this.pausedUntil) {
      this.pauseTimer ??= setTimeout(() => {
        this.pauseTimer = undefined;
        this.pump(true);
      }, this.pausedUntil - now);
      return;
    }
    while (this.inFlight < this.maxInFlight) {
      const split = this.splits.shift();
      if (split !== undefined) void this.send(split);
      else if (this.queue.ready > 0 && (force || this.queue.ready >= this.maxBatch))
        void this.send(this.queue.take(this.maxBatch));
      else break;
    }
  }

  /**
   * One RecordSpendBatch. Only the call is inside the `try`: what handles its results runs once,
   * so no failure there (a full disk under rejected.jsonl, a throwing callback) can send the
   * batch again and settle its events twice.
   */
  private async send(batch: Pending[]): Promise<void> {
    this.inFlight++;
    let results: RecordSpendResult[] | undefined;
    let error: ConnectError | undefined;
    try {
      ({ results } = await this.client.recordSpendBatch({ events: batch.map((p) => spendRequest(p.event)) }));
      if (results.length !== batch.length)
        error = new ConnectError(`${results.length} results for ${batch.length} events`, Code.Internal);
    } catch (err) {
      error = ConnectError.from(err);
    }
    this.inFlight--;
    if (error === undefined && results !== undefined) {
      this.backoff.reset();
      for (let i = 0; i < batch.length; i++) {
        const p = batch[i];
        const r = results[i];
        if (r.response !== undefined) {
          this.counts.acknowledged++;
          if (r.response.duplicate) this.counts.duplicates++;
          this.settle(p);
        } else this.failed(p, r.error?.code ?? Code.Unknown, r.error?.message ?? "no result");
      }
    } else if (error !== undefined) this.batchFailed(batch, error);
    this.pump(this.closed || this.queue.flushing);
    // What a full pipeline held back waits one more linger at most, full batch or not.
    if (this.queue.ready > 0 && !this.stopped) this.armLinger();
  }

  /** The whole call failed: the batch waits a backoff, is split, or its one event is rejected. */
  private batchFailed(batch: Pending[], e: ConnectError): void {
    if (e.code === Code.Unauthenticated) this.tokens.invalidate();
    if (e.code === Code.ResourceExhausted && batch.length > 1) {
      // A quota refuses a batch larger than its burst for good ("send smaller batches"): halve.
      this.pausedUntil = Date.now() + this.backoff.next();
      this.split(batch);
    } else if (RETRYABLE.has(e.code)) {
      // The service (or the way to it) is down: hold every send for a backoff, not a storm.
      this.pausedUntil = Date.now() + this.backoff.next();
      this.counts.retries += batch.length;
      this.queue.retry(batch, 0);
    } else if (batch.length > 1) {
      // One event can refuse the whole call (another brand's, under a token scoped to one):
      // the halves go on their own until the culprit is a batch of one, ~9 rounds for 500.
      this.split(batch);
    } else this.failed(batch[0], e.code, e.rawMessage);
  }

  /** The halves go next, each as a batch of its own, within maxInFlight. */
  private split(batch: Pending[]): void {
    const mid = batch.length >> 1;
    this.counts.retries += batch.length;
    this.splits.unshift(batch.slice(0, mid), batch.slice(mid));
  }

  /** One event failed: again after its own backoff when the code may pass, else rejected. */
  private failed(p: Pending, code: Code, message: string): void {
    if (this.stopped) return; // closed: it stays in the spool, for the next start to send
    if (RETRYABLE.has(code)) {
      this.counts.retries++;
      p.attempts++;
      const ceiling = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** Math.min(p.attempts, 20));
      this.queue.retry([p], Math.floor(Math.random() * ceiling));
      return;
    }
    this.counts.rejected++;
    try {
      this.spool?.reject(p.event, Code[code], message);
    } catch {
      // The dead-letter file cannot be written: the callback below still says it.
    }
    safely(() => this.options.onRejected?.(p.event, code, message));
    this.settle(p);
  }

  /** Each event is settled once: its spool line and its flush epoch are released once. */
  private settle(p: Pending): void {
    if (p.settled) return;
    p.settled = true;
    try {
      if (p.segment >= 0) this.spool?.settle(p.segment);
    } catch {
      // The segment could not be removed: it is read back at the next start (duplicates).
    }
    this.queue.settled(p);
  }
}
