import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type ConnectionOptions } from "@nats-io/transport-node";
import { natsServers } from "@adbudget/kit";
import type { Verdict } from "./invariants.ts";

/** One message of a stream as the invariants read it: the payload and the id it was published with. */
export interface StreamMessage {
  seq: number;
  subject: string;
  /** The `Nats-Msg-Id` header, undefined when the message has none (or an empty one). */
  msgId: string | undefined;
  data: Uint8Array;
}

/**
 * Every message of each stream, in order, through an ordered consumer (nothing is acked and the
 * services' durables are untouched). Read once the outboxes drained, so the streams are final.
 */
export async function readStreams(
  natsUrl: string,
  streams: string[],
  options: Omit<ConnectionOptions, "servers"> = {},
): Promise<Map<string, StreamMessage[]>> {
  const nc = await connect({ servers: natsServers(natsUrl), ...options });
  const out = new Map<string, StreamMessage[]>();
  try {
    const jsm = await jetstreamManager(nc);
    const js = jetstream(nc);
    for (const stream of streams) {
      const messages: StreamMessage[] = [];
      out.set(stream, messages);
      const { state } = await jsm.streams.info(stream);
      if (state.messages === 0) continue;
      const consumer = await js.consumers.get(stream);
      while (messages.length < state.messages) {
        const before = messages.length;
        for await (const m of await consumer.fetch({ max_messages: state.messages - messages.length, expires: 5000 })) {
          messages.push({
            seq: m.seq,
            subject: m.subject,
            msgId: m.headers?.get("Nats-Msg-Id") || undefined,
            data: m.data,
          });
          if (m.seq >= state.last_seq) break;
        }
        if (messages.length === before || messages.at(-1)?.seq === state.last_seq) break;
      }
    }
  } finally {
    await nc.close();
  }
  return out;
}

/** A producer's outbox row, as the stream check needs it. */
export interface OutboxEvent {
  eventId: string;
  published: boolean;
}

/**
 * Every event on a stream was published through its producer's outbox with `Nats-Msg-Id` = its
 * event id (docs/design.md, Shape: retries dedupe by it), once: a message without the header is
 * a failure (a publish that bypassed the outbox, or a relay that lost the id, could be
 * duplicated by a retry and nobody would know), so is an id no outbox row has, two messages with
 * one id, and a row marked published that is not on the stream.
 */
export function msgIdVerdict(streams: { name: string; messages: StreamMessage[]; outbox: OutboxEvent[] }[]): Verdict {
  const problems: string[] = [];
  const figures: string[] = [];
  for (const s of streams) {
    const rows = new Map(s.outbox.map((r) => [r.eventId.toLowerCase(), r]));
    const seen = new Map<string, number>();
    let missing = 0;
    for (const m of s.messages) {
      if (m.msgId === undefined) {
        missing++;
        problems.push(`${s.name} seq ${m.seq} (${m.subject}) has no Nats-Msg-Id`);
        continue;
      }
      const id = m.msgId.toLowerCase();
      const n = (seen.get(id) ?? 0) + 1;
      seen.set(id, n);
      if (n === 2) problems.push(`${s.name}: Nats-Msg-Id ${m.msgId} on more than one message (seq ${m.seq} is a copy)`);
      if (!rows.has(id))
        problems.push(
          `${s.name} seq ${m.seq} (${m.subject}): Nats-Msg-Id ${m.msgId} is no event id of the producer's outbox`,
        );
    }
    for (const r of s.outbox)
      if (r.published && !seen.has(r.eventId.toLowerCase()))
        problems.push(`${s.name}: outbox event ${r.eventId} marked published but not on the stream`);
    figures.push(`${s.name.split("_").at(-1)?.toLowerCase()} ${s.messages.length} messages, ${missing} without an id`);
  }
  return {
    name: "every event on the streams carries its outbox event id as Nats-Msg-Id, once",
    ok: problems.length === 0,
    figures: figures.join("; "),
    problems,
  };
}
