import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { Verdict } from "./invariants.ts";

/** A durable consumer's position, from its ConsumerInfo. */
export interface ConsumerFigures {
  deliveredStreamSeq: number;
  ackFloorStreamSeq: number;
  numAckPending: number;
  numRedelivered: number;
}

/** What the crossing fault did to the crossing's budget.exhausted message. */
export interface CrossingObservation {
  /** Its stream sequence (undefined: it was never published). */
  messageSeq: number | undefined;
  /** The campaign service's durable consumer when the replicas were killed. */
  atKill: ConsumerFigures | undefined;
  /** Most `num_redelivered` seen between the kill and the campaign's stop. */
  maxRedelivered: number;
  /** The durable once the campaign stopped (undefined: it never acknowledged the message). */
  acked: ConsumerFigures | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Watches one durable consumer of a stream (read-only: ConsumerInfo and direct message reads),
 * to see whether a message was delivered and not acknowledged when its consumer died.
 */
export class DurableProbe {
  private readonly nc: NatsConnection;
  private readonly jsm: JetStreamManager;
  readonly stream: string;
  readonly durable: string;

  private constructor(nc: NatsConnection, jsm: JetStreamManager, stream: string, durable: string) {
    this.nc = nc;
    this.jsm = jsm;
    this.stream = stream;
    this.durable = durable;
  }

  static async open(natsUrl: string, stream: string, durable: string): Promise<DurableProbe> {
    const nc = await connect({ servers: natsUrl });
    return new DurableProbe(nc, await jetstreamManager(nc), stream, durable);
  }

  async figures(): Promise<ConsumerFigures> {
    const i = await this.jsm.consumers.info(this.stream, this.durable);
    return {
      deliveredStreamSeq: i.delivered.stream_seq,
      ackFloorStreamSeq: i.ack_floor.stream_seq,
      numAckPending: i.num_ack_pending,
      numRedelivered: i.num_redelivered,
    };
  }

  /** The stream sequence of the last message on `subject`, once there is one (undefined after `timeoutMs`). */
  async lastSeqOf(subject: string, timeoutMs: number): Promise<number | undefined> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
      const m = await this.jsm.streams.getMessage(this.stream, { last_by_subj: subject }).catch(() => null);
      if (m) return m.seq;
    }
    return undefined;
  }

  /** Polls the consumer until `done` holds (answers the figures that satisfied it, or undefined after `timeoutMs`). */
  async until(
    done: (f: ConsumerFigures) => boolean,
    timeoutMs: number,
    each?: (f: ConsumerFigures) => void,
  ): Promise<ConsumerFigures | undefined> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(20)) {
      const f = await this.figures().catch(() => undefined);
      if (f === undefined) continue;
      each?.(f);
      if (done(f)) return f;
    }
    return undefined;
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** The message was delivered to a consumer that had not acknowledged it. */
export const holds = (f: ConsumerFigures, seq: number): boolean =>
  f.deliveredStreamSeq >= seq && f.ackFloorStreamSeq < seq && f.numAckPending > 0;

/**
 * The crossing fault took effect: the campaign replicas died holding the crossing's exhausted
 * event (at the kill the durable had delivered it and was waiting for its ack, or JetStream
 * counted a redelivery afterwards), and a restarted replica acknowledged it. If the replicas
 * died before the event reached them, or after they had handled it, the "stops within seconds
 * of the restart" verdict measures nothing and this one fails.
 */
export function crossingHeldVerdict(o: CrossingObservation): Verdict {
  const problems: string[] = [];
  const seq = o.messageSeq;
  if (seq === undefined) problems.push("the crossing spend published no budget.exhausted event");
  else {
    const held = o.atKill !== undefined && holds(o.atKill, seq);
    if (!held && o.maxRedelivered === 0) {
      const k = o.atKill;
      problems.push(
        `the killed campaign replicas did not hold the crossing's event (seq ${seq}; at the kill ${k === undefined ? "no consumer figures" : `delivered ${k.deliveredStreamSeq}, ack floor ${k.ackFloorStreamSeq}, ack pending ${k.numAckPending}`}; no redelivery counted): the fault did not take effect`,
      );
    }
    if (o.acked === undefined)
      problems.push(`the crossing's event (seq ${seq}) was not acknowledged after the restart`);
  }
  const k = o.atKill;
  return {
    name: "the campaign replicas killed after the crossing died holding its event (ack pending or redelivered)",
    ok: problems.length === 0,
    figures: `seq ${seq ?? "-"}; at the kill: ${k === undefined ? "-" : `delivered ${k.deliveredStreamSeq}, ack floor ${k.ackFloorStreamSeq}, ${k.numAckPending} ack pending`}; ${o.maxRedelivered} redelivered at most; ${o.acked === undefined ? "never acked" : `acked (floor ${o.acked.ackFloorStreamSeq})`}`,
    problems,
  };
}
