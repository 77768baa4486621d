import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "@adbudget/kit";
import { BudgetThresholdEventSchema, type BudgetThresholdEvent } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { thresholdSubject } from "./thresholds.js";

/**
 * Streams a brand's threshold events to WatchBudgetAlerts callers. Fed by NATS (the relay
 * publishes `<prefix>.budget.threshold.<brandId>`), so a watcher on any replica hears alerts
 * committed by every replica. One subscription per watcher, on its brand's subject only.
 *
 * Each watcher has a bounded queue (`maxBuffer`): a reader that falls that far behind is ended
 * with RESOURCE_EXHAUSTED instead of growing memory without bound.
 */
export class AlertWatch {
  private readonly ends = new Set<() => void>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjectPrefix: string,
    private readonly logger: Logger,
    private readonly maxBuffer = 1000,
  ) {}

  /**
   * First `undefined` once the subscription is registered with the NATS server (every alert
   * published after it is delivered), then the brand's alerts, until `signal` aborts or the
   * service stops.
   */
  async *watch(brandId: string, signal: AbortSignal): AsyncGenerator<BudgetThresholdEvent | undefined> {
    const sub = this.nc.subscribe(thresholdSubject(this.subjectPrefix, brandId));
    const queue: BudgetThresholdEvent[] = [];
    let overflowed = false;
    let ended = false;
    let wake: (() => void) | undefined;
    const end = () => {
      ended = true;
      wake?.();
    };
    this.ends.add(end);
    signal.addEventListener("abort", end, { once: true });
    void (async () => {
      for await (const m of sub) {
        try {
          if (queue.length >= this.maxBuffer) overflowed = true;
          else queue.push(fromBinary(BudgetThresholdEventSchema, m.data));
        } catch (err) {
          this.logger.warn({ err, subject: m.subject }, "undecodable threshold event");
        }
        wake?.();
      }
    })();
    try {
      await this.nc.flush();
      yield undefined;
      for (;;) {
        if (overflowed)
          throw new ConnectError(
            `the reader fell ${this.maxBuffer} alerts behind: watch again`,
            Code.ResourceExhausted,
          );
        const next = queue.shift();
        if (next !== undefined) {
          yield next;
          continue;
        }
        if (ended) return;
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
    } finally {
      sub.unsubscribe();
      this.ends.delete(end);
      signal.removeEventListener("abort", end);
    }
  }

  /** Ends every stream (shutdown). */
  stop(): void {
    for (const end of this.ends) end();
  }
}
