/**
 * Exponential backoff for the loops that wait for something outside to come back (NATS for the
 * durable consumers and the outbox relay): the first failure waits `minMs`, each further failure
 * in a row doubles the wait up to `maxMs`, and a success starts over. One rule for every such
 * loop, so an outage is neither a reconnect storm nor a long silence after it ends.
 */
export class Backoff {
  private waitMs = 0;

  constructor(
    private readonly minMs = 100,
    private readonly maxMs = 5000,
  ) {}

  /** The wait before the next attempt, after one more failure in a row. */
  next(): number {
    this.waitMs = this.waitMs === 0 ? this.minMs : Math.min(this.maxMs, this.waitMs * 2);
    return this.waitMs;
  }

  /** An attempt succeeded: the next failure waits `minMs` again. Answers whether it was backing off. */
  reset(): boolean {
    const was = this.waitMs > 0;
    this.waitMs = 0;
    return was;
  }
}
