import { randomBytes } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "@adbudget/kit";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import {
  CampaignStateChangedEventSchema,
  type CampaignStateChangedEvent,
} from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";
import { WatchHub } from "./watch-hub.js";

/**
 * The hub that feeds WatchCampaigns, over a real NATS server: what each reader receives, not how
 * many. Every wait is a read of an iterator (it resolves when the hub dispatched the next event),
 * never a sleep: the hub hands one event to all its readers in one synchronous pass, so a reader
 * that has received event n proves every other reader's queue holds (or overflowed on) event n.
 */
let nc: NatsConnection;
beforeAll(async () => {
  nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
});
afterAll(async () => {
  await nc?.close();
});

/** One committed change as the campaign service publishes it: campaign, brand, version, state. */
interface Change {
  campaign: string;
  brand: string;
  etag: string;
  serving: boolean;
}

const encode = (c: Change) =>
  toBinary(
    CampaignStateChangedEventSchema,
    create(CampaignStateChangedEventSchema, {
      campaign: {
        id: c.campaign,
        brandId: c.brand,
        etag: c.etag,
        serving: c.serving,
        pauseReasons: c.serving ? [] : [PauseReason.PAUSED_BY_USER],
      },
      change: {
        campaignId: c.campaign,
        brandId: c.brand,
        toServing: c.serving,
        cause: c.serving ? "user.resume" : "user.pause",
      },
    }),
  );

/** What a reader got, in the same terms (the event's campaign and its audit entry must agree). */
const decoded = (e: CampaignStateChangedEvent): Change & { agrees: boolean } => ({
  campaign: e.campaign?.id ?? "",
  brand: e.campaign?.brandId ?? "",
  etag: e.campaign?.etag ?? "",
  serving: e.campaign?.serving ?? false,
  agrees:
    e.change?.campaignId === e.campaign?.id &&
    e.change?.brandId === e.campaign?.brandId &&
    e.change?.toServing === e.campaign?.serving,
});

/** A hub on a subject prefix of its own (no other test's events reach it). */
function newHub(maxBuffer: number) {
  const prefix = `t${randomBytes(4).toString("hex")}`;
  const hub = new WatchHub(nc, prefix, createLogger("test", "silent"), maxBuffer);
  hub.start();
  const publish = (changes: Change[]) => {
    for (const c of changes) nc.publish(`${prefix}.campaign.state.${c.campaign}`, encode(c));
  };
  return { hub, publish };
}

/** Reads exactly `n` events from `it` (each read waits for the hub to dispatch one). */
async function take(it: AsyncIterator<CampaignStateChangedEvent>, n: number) {
  const got: (Change & { agrees: boolean })[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done === true) throw new Error(`the stream ended after ${i} of ${n} events`);
    got.push(decoded(r.value));
  }
  return got;
}

// Two brands' campaigns changing interleaved, as one NATS subject space carries them.
const A = "brand-a";
const B = "brand-b";
const interleaved: Change[] = [
  { campaign: "a1", brand: A, etag: "1", serving: false },
  { campaign: "b1", brand: B, etag: "1", serving: false },
  { campaign: "a2", brand: A, etag: "1", serving: false },
  { campaign: "b2", brand: B, etag: "1", serving: false },
  { campaign: "a1", brand: A, etag: "2", serving: true },
  { campaign: "b1", brand: B, etag: "2", serving: true },
  { campaign: "a3", brand: A, etag: "1", serving: false },
  { campaign: "a2", brand: A, etag: "2", serving: true },
];
const of = (brand: string) => interleaved.filter((c) => c.brand === brand).map((c) => ({ ...c, agrees: true }));

describe("what each reader receives", () => {
  it("a brand's reader gets exactly that brand's changes, whole and in commit order; a scoped reader of all gets its brands'", async () => {
    const { hub, publish } = newHub(100);
    const abort = new AbortController();
    const brandA = hub.subscribe(A, abort.signal)[Symbol.asyncIterator]();
    // A caller scoped to brand B watching "all" (brand_id empty), as WatchCampaigns subscribes it.
    const scopedToB = hub.subscribe("", abort.signal, new Set([B]))[Symbol.asyncIterator]();
    const everything = hub.subscribe("", abort.signal)[Symbol.asyncIterator]();
    await nc.flush();

    publish(interleaved);
    // A closing change of each brand: if a foreign event had slipped in, the reader would meet
    // it before this one and the lists below would differ.
    const lastA: Change = { campaign: "a9", brand: A, etag: "1", serving: true };
    const lastB: Change = { campaign: "b9", brand: B, etag: "1", serving: true };
    publish([lastB, lastA]);

    expect(await take(brandA, of(A).length + 1)).toEqual([...of(A), { ...lastA, agrees: true }]);
    expect(await take(scopedToB, of(B).length + 1)).toEqual([...of(B), { ...lastB, agrees: true }]);
    expect(await take(everything, interleaved.length + 2)).toEqual(
      [...interleaved, lastB, lastA].map((c) => ({ ...c, agrees: true })),
    );

    // Aborting (a client gone, or shutdown) ends every reader cleanly and unregisters it.
    const pending = [brandA.next(), scopedToB.next(), everything.next()];
    abort.abort();
    for (const p of pending) expect((await p).done).toBe(true);
    expect(hub.size).toBe(0);
    hub.stop();
  });

  it("a brand's reader holds only its own brand's backlog: other brands never fill its buffer, its own sixth of five ends it", async () => {
    const { hub, publish } = newHub(5);
    const abort = new AbortController();
    const slowA = hub.subscribe(A, abort.signal)[Symbol.asyncIterator]();
    // The witness: reading it proves the hub has dispatched up to that event to every reader.
    const witness = hub.subscribe("", abort.signal)[Symbol.asyncIterator]();
    await nc.flush();
    /** Publishes in rounds the witness reads whole (its own buffer is five too): it never overflows. */
    const deliver = async (changes: Change[]) => {
      for (let i = 0; i < changes.length; i += 5) {
        const round = changes.slice(i, i + 5);
        publish(round);
        expect(await take(witness, round.length)).toEqual(round.map((c) => ({ ...c, agrees: true })));
      }
    };

    // Five of brand A (a full buffer) among twelve of brand B: nothing has overflowed, and the
    // reader gets its five.
    const five: Change[] = [1, 2, 3, 4, 5].map((n) => ({ campaign: `a${n}`, brand: A, etag: "1", serving: false }));
    const manyB: Change[] = Array.from({ length: 12 }, (_, n) => ({
      campaign: `b${n}`,
      brand: B,
      etag: "1",
      serving: false,
    }));
    await deliver([
      ...manyB.slice(0, 4),
      ...five.slice(0, 2),
      ...manyB.slice(4, 8),
      ...five.slice(2),
      ...manyB.slice(8),
    ]);
    expect(await take(slowA, 5)).toEqual(five.map((c) => ({ ...c, agrees: true })));

    // Five more of brand A, unread, then a sixth: the reader is ended with RESOURCE_EXHAUSTED (it
    // reconnects for a fresh snapshot) instead of buffering without bound.
    const more: Change[] = [6, 7, 8, 9, 10, 11].map((n) => ({
      campaign: `a${n}`,
      brand: A,
      etag: "1",
      serving: false,
    }));
    await deliver(more);
    const error = await slowA.next().then(
      () => undefined,
      (err: unknown) => ConnectError.from(err),
    );
    expect(error?.code).toBe(Code.ResourceExhausted);
    // Ended and unregistered; the witness reads on, and aborting ends it cleanly.
    expect(hub.size).toBe(1);
    const pending = witness.next();
    abort.abort();
    expect((await pending).done).toBe(true);
    hub.stop();
  });
});
