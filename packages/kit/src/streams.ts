import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./logger.js";

/** A stream as a workload creates it when it is missing. */
export interface StreamDefinition {
  readonly name: string;
  readonly subjects: readonly string[];
  /** Servers of the NATS cluster that keep it (`num_replicas`): 1 on a single server. */
  readonly replicas: number;
}

/**
 * Creates a JetStream stream if it does not exist. Publishers and consumers both call it, so
 * start order does not matter. Dedupe window 2 minutes: a relay that re-publishes after a crash
 * is absorbed by Nats-Msg-Id. A stream that exists is left as it is (its replicas included:
 * changing them is an operator's decision, `nats stream edit`).
 */
export async function ensureStream(nc: NatsConnection, stream: StreamDefinition, logger?: Logger): Promise<void> {
  const { name, replicas } = stream;
  const subjects = [...stream.subjects];
  const jsm = await jetstreamManager(nc);
  try {
    const info = await jsm.streams.info(name);
    if (info.config.num_replicas !== replicas)
      logger?.warn(
        { stream: name, replicas: info.config.num_replicas, configured: replicas },
        "stream kept by another number of servers than STREAM_REPLICAS says: left as it is (nats stream edit changes it)",
      );
  } catch (missing) {
    // Only a stream that is not there is created; any other answer (a timeout, JetStream
    // electing a leader) is the caller's to retry.
    if (!(missing instanceof JetStreamApiError && missing.code === JetStreamApiCodes.StreamNotFound)) throw missing;
    try {
      await jsm.streams.add({ name, subjects, num_replicas: replicas, duplicate_window: 120_000_000_000 });
      logger?.info({ stream: name, subjects, replicas }, "created JetStream stream");
    } catch (err) {
      // Another process created it in between: fine if it exists now.
      await jsm.streams.info(name).catch(() => {
        throw err;
      });
    }
  }
}
