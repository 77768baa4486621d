import { randomBytes } from "node:crypto";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "@adbudget/kit";
import { CampaignStateChangedEventSchema } from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";
import { WatchHub } from "./watch-hub.js";

let nc: NatsConnection;
const prefix = `t${randomBytes(4).toString("hex")}`;
beforeAll(async () => {
  nc = await connect({ servers: process.env.NATS_URL ?? "nats://127.0.0.1:4222" });
});
afterAll(async () => {
  await nc?.close();
});

const event = (brandId: string, n: number) =>
  toBinary(CampaignStateChangedEventSchema, create(CampaignStateChangedEventSchema, { campaign: { id: `c${n}`, brandId, etag: `v${n}` } }));

it("delivers a brand's changes in order and ends a reader that falls behind its buffer with RESOURCE_EXHAUSTED", async () => {
  const hub = new WatchHub(nc, prefix, createLogger("test", "silent"), 5);
  hub.start();
  const abort = new AbortController();
  const mine = hub.subscribe("brand-a", abort.signal);
  const all = hub.subscribe("", abort.signal);
  await nc.flush();
  for (let n = 1; n <= 3; n++) nc.publish(`${prefix}.campaign.state.c${n}`, event("brand-a", n));
  nc.publish(`${prefix}.campaign.state.x`, event("brand-b", 99));
  await nc.flush();
  await new Promise((r) => setTimeout(r, 200));

  // `all` receives both brands; read it as a fast reader would.
  const it1 = all[Symbol.asyncIterator]();
  const got: string[] = [];
  for (let i = 0; i < 4; i++) got.push((await it1.next()).value!.campaign!.etag);
  expect(got).toEqual(["v1", "v2", "v3", "v99"]);

  // `mine` did not read: 3 buffered; 3 more overflow its buffer of 5.
  for (let n = 4; n <= 6; n++) nc.publish(`${prefix}.campaign.state.c${n}`, event("brand-a", n));
  await nc.flush();
  await new Promise((r) => setTimeout(r, 200));
  const it2 = mine[Symbol.asyncIterator]();
  let error: unknown;
  try {
    for (;;) await it2.next();
  } catch (err) {
    error = err;
  }
  expect(ConnectError.from(error).code).toBe(Code.ResourceExhausted);
  expect(hub.size).toBe(1);

  // The fast reader got those too, then waits; aborting (a client gone, or shutdown) ends it cleanly.
  for (const want of ["v4", "v5", "v6"]) expect((await it1.next()).value!.campaign!.etag).toBe(want);
  const pending = it1.next();
  abort.abort();
  expect((await pending).done).toBe(true);
  hub.stop();
});
