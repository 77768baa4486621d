import { jetstreamManager } from "@nats-io/jetstream";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Logger } from "./logger.js";

/**
 * Creates a JetStream stream if it does not exist. Publishers and consumers both call it, so
 * start order does not matter. Dedupe window 2 minutes: a relay that re-publishes after a crash
 * is absorbed by Nats-Msg-Id.
 */
export async function ensureStream(
  nc: NatsConnection,
  name: string,
  subjects: string[],
  logger?: Logger,
): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(name);
  } catch {
    try {
      await jsm.streams.add({ name, subjects, duplicate_window: 120_000_000_000 });
      logger?.info({ stream: name, subjects }, "created JetStream stream");
    } catch (err) {
      // Another process created it in between: fine if it exists now.
      await jsm.streams.info(name).catch(() => {
        throw err;
      });
    }
  }
}
