import { fromBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Logger } from "@adbudget/kit";
import {
  CampaignStateChangedEventSchema,
  type CampaignStateChangedEvent,
} from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";

interface Watcher {
  brandId: string;
  /** When set, only campaigns of these brands (a caller scoped to brands watching them all). */
  brands: ReadonlySet<string> | undefined;
  queue: CampaignStateChangedEvent[];
  overflowed: boolean;
  wake: (() => void) | undefined;
}

/**
 * Fans committed campaign changes out to WatchCampaigns streams. Fed by the campaign events on
 * NATS (`<prefix>.campaign.state.>`), not by in-process calls, so a watcher connected to any
 * replica sees the changes committed by every replica.
 *
 * Each watcher has a bounded queue: a reader that falls `maxBuffer` events behind is ended with
 * RESOURCE_EXHAUSTED (it reconnects and gets a fresh snapshot) instead of growing memory
 * without bound.
 */
export class WatchHub {
  private readonly watchers = new Set<Watcher>();
  private sub: Subscription | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly subjectPrefix: string,
    private readonly logger: Logger,
    private readonly maxBuffer = 1000,
  ) {}

  start(): void {
    const sub = this.nc.subscribe(`${this.subjectPrefix}.campaign.state.>`);
    this.sub = sub;
    void (async () => {
      for await (const m of sub) {
        let event: CampaignStateChangedEvent;
        try {
          event = fromBinary(CampaignStateChangedEventSchema, m.data);
        } catch (err) {
          this.logger.warn({ err, subject: m.subject }, "undecodable campaign event");
          continue;
        }
        this.dispatch(event);
      }
    })();
  }

  stop(): void {
    this.sub?.unsubscribe();
    for (const w of this.watchers) w.wake?.();
  }

  get size(): number {
    return this.watchers.size;
  }

  private dispatch(event: CampaignStateChangedEvent): void {
    const brandId = event.campaign?.brandId ?? "";
    for (const w of this.watchers) {
      if (w.brandId !== "" && w.brandId !== brandId) continue;
      if (w.brands !== undefined && !w.brands.has(brandId)) continue;
      if (w.queue.length >= this.maxBuffer) {
        w.overflowed = true;
      } else {
        w.queue.push(event);
      }
      w.wake?.();
    }
  }

  /**
   * Starts buffering the changes of `brandId` ("" = all) at once, so a snapshot read after this
   * call misses nothing; iterate the result to receive them. Ends when `signal` aborts.
   */
  subscribe(
    brandId: string,
    signal: AbortSignal,
    brands?: ReadonlySet<string>,
  ): AsyncIterable<CampaignStateChangedEvent> & { close(): void } {
    const w: Watcher = { brandId, brands, queue: [], overflowed: false, wake: undefined };
    this.watchers.add(w);
    // One abort listener per watcher (not one per wait: a long stream would pile them up).
    const onAbort = () => w.wake?.();
    signal.addEventListener("abort", onAbort, { once: true });
    const close = () => {
      this.watchers.delete(w);
      signal.removeEventListener("abort", onAbort);
    };
    const open = () => this.sub !== undefined && !this.sub.isClosed();
    const maxBuffer = this.maxBuffer;
    return {
      close,
      async *[Symbol.asyncIterator]() {
        try {
          while (!signal.aborted && open()) {
            if (w.overflowed) {
              throw new ConnectError(
                `watcher fell more than ${maxBuffer} changes behind; reconnect for a fresh snapshot`,
                Code.ResourceExhausted,
              );
            }
            const next = w.queue.shift();
            if (next !== undefined) {
              yield next;
              continue;
            }
            await new Promise<void>((resolve) => {
              w.wake = resolve;
            });
            w.wake = undefined;
          }
        } finally {
          close();
        }
      },
    };
  }
}
