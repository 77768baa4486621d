/**
 * Full-jitter exponential backoff for clients (the "full jitter" of the AWS architecture blog):
 * the n-th retry in a row waits a uniformly random time in [0, min(max, min * 2^n)]. Thousands
 * of ad servers that lost the same replica at the same instant then come back spread over the
 * window instead of in one wave (a fixed doubling would make every wave as tall as the first).
 */
export class JitterBackoff {
  private attempt = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {}

  /** The wait before the next attempt, after one more failure in a row. */
  next(): number {
    const ceiling = Math.min(this.maxMs, this.minMs * 2 ** Math.min(this.attempt, 30));
    this.attempt++;
    return Math.floor(this.random() * ceiling);
  }

  /** A success: the next failure starts from `minMs` again. */
  reset(): void {
    this.attempt = 0;
  }

  /** Failures in a row so far. */
  get failures(): number {
    return this.attempt;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts (the caller checks the signal). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}
