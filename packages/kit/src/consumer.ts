import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager, type JsMsg } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import { Backoff } from "./backoff.js";
import type { StopStack } from "./lifecycle.js";
import type { Logger } from "./logger.js";
import { ensureStream } from "./streams.js";
import { withMessageSpan } from "./tracing.js";

export interface DurableConsumerOptions {
  stream: string;
  /** Subjects and replicas of the stream, to create it if the producer has not yet. */
  streamSubjects: string[];
  streamReplicas: number;
  /** Durable name: replicas sharing it share the work; a restarted one resumes where it was. */
  durable: string;
  filterSubject: string;
  /** Handles one message; resolve after the effect is committed. Throw to retry later. */
  handle: (msg: JsMsg) => Promise<void>;
  logger: Logger;
  /** How long a message may be in processing before JetStream redelivers it (default ACK_WAIT_MS). */
  ackWaitMs?: number;
  /** Delay before a failed message is redelivered. */
  retryDelayMs?: number;
  /**
   * Messages handled at once (default 1: in stream order). More only for handlers that are
   * idempotent AND order-insensitive (an event carries its aggregate's sequence or version: an
   * older one changes nothing): a consumer that applies one event at a time in a
   * ~5 ms transaction tops out at ~200 events/s, and a burst of exhaustions queued behind each
   * other for 100 ms and more.
   */
  concurrency?: number;
}

/**
 * How long JetStream waits for the ack of a delivered message before it delivers it again. A
 * process killed while holding messages (SIGKILL, OOM) delays them by this much: 5 s, so an
 * event that stops something (money run out) takes effect within seconds of a crash, not 30. Handlers take
 * milliseconds; a slow one heartbeats (`working()`) so it is not redelivered while it runs.
 */
export const ACK_WAIT_MS = 5_000;

/**
 * How long each pull waits at the server before the client renews it; the server's idle
 * heartbeats come every half of it, and two missed make the client pull again. In a NATS cluster
 * a pull is held by the consumer's leader: when that server dies, the client's pull dies with it
 * and nothing tells the client, whose own connection (to another server) stays up. With the
 * default 30 s the campaign service then heard no budget event for up to 30 s (the cluster test
 * timed out at 30 s in 1 of 4 runs). 5 s: a lost pull is replaced within ~5 s, for one idle
 * pull per 5 s per consumer.
 */
export const PULL_EXPIRES_MS = 5_000;

/**
 * A durable JetStream pull consumer with explicit acks: a message is acked only after its
 * handler committed, so a crash or a failure means redelivery, never loss; handlers must be
 * idempotent. A consumer that was down resumes from its last ack (catch-up). Runs until
 * `stop()`; reconnects and retries on its own while NATS is away.
 */
export class DurableConsumer {
  private stopped = false;
  private current: { stop(): void } | undefined;
  private running: Promise<void> | undefined;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: DurableConsumerOptions,
  ) {}

  start(): void {
    this.running = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.stop();
    await this.running;
  }

  private async setup() {
    const o = this.options;
    await ensureStream(this.nc, { name: o.stream, subjects: o.streamSubjects, replicas: o.streamReplicas }, o.logger);
    const jsm = await jetstreamManager(this.nc);
    const ackWait = (o.ackWaitMs ?? ACK_WAIT_MS) * 1_000_000;
    const config = {
      durable_name: o.durable,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      filter_subject: o.filterSubject,
      ack_wait: ackWait,
      max_ack_pending: 1000,
    };
    let info;
    try {
      info = await jsm.consumers.info(o.stream, o.durable);
    } catch {
      await jsm.consumers.add(o.stream, config);
      o.logger.info({ stream: o.stream, durable: o.durable, filter: o.filterSubject }, "created durable consumer");
    }
    if (info !== undefined && info.config.ack_wait !== ackWait) {
      // A durable made by an earlier version (30 s): take the current ack wait.
      await jsm.consumers.update(o.stream, o.durable, { ack_wait: ackWait });
      o.logger.info(
        { durable: o.durable, ackWaitMs: ackWait / 1_000_000 },
        "updated the ack wait of the durable consumer",
      );
    }
    return jetstream(this.nc).consumers.get(o.stream, o.durable);
  }

  /** Handles one message; acks it after the handler committed, naks it for a later retry if it failed. */
  private async handleOne(msg: JsMsg): Promise<void> {
    const o = this.options;
    // A slow handler (a database blinking) tells JetStream it is still on it, so only a dead
    // process's messages wait out the ack wait.
    const working = setInterval(() => msg.working(), (o.ackWaitMs ?? ACK_WAIT_MS) / 2);
    try {
      await withMessageSpan(`consume ${msg.subject}`, msg.headers?.get("traceparent") || undefined, () =>
        o.handle(msg),
      );
      msg.ack();
    } catch (err) {
      o.logger.warn({ err, subject: msg.subject, seq: msg.seq }, "message handling failed, will be redelivered");
      msg.nak(o.retryDelayMs ?? 1000);
    } finally {
      clearInterval(working);
    }
  }

  private async loop(): Promise<void> {
    const o = this.options;
    const backoff = new Backoff();
    while (!this.stopped) {
      try {
        const consumer = await this.setup();
        const messages = await consumer.consume({ max_messages: 256, expires: PULL_EXPIRES_MS });
        this.current = messages;
        backoff.reset();
        const limit = Math.max(1, o.concurrency ?? 1);
        const inFlight = new Set<Promise<void>>();
        for await (const msg of messages) {
          const p = this.handleOne(msg).finally(() => inFlight.delete(p));
          inFlight.add(p);
          if (inFlight.size >= limit) await Promise.race(inFlight);
          if (this.stopped) break;
        }
        await Promise.all(inFlight);
      } catch (err) {
        if (this.stopped) break;
        const retryInMs = backoff.next();
        const message = err instanceof Error ? err.message : String(err);
        o.logger.warn({ err: message, retryInMs }, "consumer interrupted, retrying");
        await new Promise((r) => setTimeout(r, retryInMs));
      }
    }
  }
}

/** Starts a durable consumer that `stack` stops (before the NATS connection it uses closes). */
export function startDurableConsumer(
  nc: NatsConnection,
  options: DurableConsumerOptions,
  stack: StopStack,
): DurableConsumer {
  const consumer = new DurableConsumer(nc, options);
  consumer.start();
  stack.push(() => consumer.stop());
  return consumer;
}

/**
 * Decodes a consumed message, or logs it and answers undefined: a message that cannot be decoded
 * would be redelivered forever (a poison message), so the handler returns and it is acked.
 */
export function decodeOrSkip<Desc extends DescMessage>(
  schema: Desc,
  msg: JsMsg,
  logger: Logger,
  what: string,
): MessageShape<Desc> | undefined {
  try {
    return fromBinary(schema, msg.data);
  } catch (err) {
    logger.error({ err, subject: msg.subject, seq: msg.seq }, `undecodable ${what}, skipped`);
    return undefined;
  }
}
