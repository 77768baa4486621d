import type { StampedEvent } from "./spend-event.js";

/** An accepted event on its way: its spool segment (-1 without a spool), tries, flush epoch. */
export interface Pending {
  readonly event: StampedEvent;
  readonly segment: number;
  attempts: number;
  readonly epoch: number;
  /** Acknowledged, rejected or dropped: counted once, whatever comes after. */
  settled: boolean;
}

/**
 * The reporter's events between `report` and their outcome: a deque of events ready to send
 * (retries go to its front, so a failed event is not overtaken by a long queue), events waiting
 * for their retry, and flush epochs (`settledUpToNow` resolves when every event accepted before
 * it is settled, however the sends interleave).
 */
export class SendQueue {
  private items: Pending[] = [];
  private head = 0;
  private epoch = 0;
  private total = 0;
  private readonly perEpoch = new Map<number, number>();
  private readonly waiters: { epoch: number; resolve: () => void }[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  /** `onRetryDue` is called when events come back from a retry wait. */
  constructor(private readonly onRetryDue: () => void) {}

  /** Events ready to send. */
  get ready(): number {
    return this.items.length - this.head;
  }

  /** Accepted events not yet settled. */
  get unsettled(): number {
    return this.total;
  }

  /** A flush is waiting: sends should not wait for full batches. */
  get flushing(): boolean {
    return this.waiters.length > 0;
  }

  push(event: StampedEvent, segment: number): void {
    this.items.push({ event, segment, attempts: 0, epoch: this.epoch, settled: false });
    this.perEpoch.set(this.epoch, (this.perEpoch.get(this.epoch) ?? 0) + 1);
    this.total++;
  }

  /** Up to `n` events from the front, to send. */
  take(n: number): Pending[] {
    const end = Math.min(this.items.length, this.head + n);
    const batch = this.items.slice(this.head, end);
    this.head = end;
    // Drop the consumed front once it is most of the array: amortized O(1) per event.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return batch;
  }

  /** The oldest ready event, removed (the drop-oldest policy); undefined when none is ready. */
  dropOldest(): Pending | undefined {
    return this.ready > 0 ? this.take(1)[0] : undefined;
  }

  /** `batch` goes back to the front after `delayMs` (0: at once). */
  retry(batch: Pending[], delayMs: number): void {
    const back = () => {
      if (this.head >= batch.length) {
        this.head -= batch.length;
        for (let i = 0; i < batch.length; i++) this.items[this.head + i] = batch[i];
      } else {
        this.items = [...batch, ...this.items.slice(this.head)];
        this.head = 0;
      }
    };
    if (delayMs <= 0) return back();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopped) return;
      back();
      this.onRetryDue();
    }, delayMs);
    this.timers.add(timer);
  }

  /** `p` was acknowledged, rejected or dropped. */
  settled(p: Pending): void {
    this.total--;
    const left = (this.perEpoch.get(p.epoch) ?? 0) - 1;
    if (left > 0) {
      this.perEpoch.set(p.epoch, left);
      return;
    }
    this.perEpoch.delete(p.epoch);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i];
      if (!this.anyUpTo(w.epoch)) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  /** Resolves when every event pushed before this call is settled. */
  settledUpToNow(): Promise<void> {
    const epoch = this.epoch++;
    if (!this.anyUpTo(epoch)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ epoch, resolve }));
  }

  /** No more retries come back; waiting flushes are released. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private anyUpTo(epoch: number): boolean {
    for (const e of this.perEpoch.keys()) if (e <= epoch) return true;
    return false;
  }
}
