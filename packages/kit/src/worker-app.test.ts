import { randomBytes } from "node:crypto";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import { createLogger } from "./logger.js";
import { ensureStream } from "./streams.js";
import { startWorkerApp, type WorkerAppConfig } from "./worker-app.js";
import type { ConsumerHandlers } from "./workload.js";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const tag = `wapp${randomBytes(3).toString("hex")}`;
const stream = tag.toUpperCase();
const access = { roles: {}, scopeClaim: "scope" };
const identity = { sub: "service:test", role: "test" };
const logger = createLogger("worker-app-test", "silent");
let nc: NatsConnection;

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
  // Here before the first publish (a consumer creates it too, but in its own time).
  await ensureStream(nc, { name: stream, subjects: [`${tag}.>`], replicas: 1 }, logger);
});
afterAll(async () => {
  await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  await nc.close();
});

function configWith(names: readonly string[]) {
  const consumers = Object.fromEntries(
    names.map((name) => [
      name,
      {
        stream,
        streamSubjects: [`${tag}.>`],
        streamReplicas: 1,
        durable: `${tag}-${name}`,
        filterSubject: `${tag}.${name}.>`,
      },
    ]),
  );
  return {
    name: tag,
    logLevel: "silent",
    natsUrl: NATS_URL,
    natsAuth: {},
    auth: { disabled: true, audience: "test", issuer: "test", jwksFile: "", jwksUrl: "", privateKeyFile: "" },
    identity,
    tlsCaFile: "",
    tlsClientCertFile: "",
    tlsClientKeyFile: "",
    consumers,
  } satisfies WorkerAppConfig;
}

it("starts each consumer with its handler, and stops the consumers before what build started", async () => {
  const order: string[] = [];
  const received: string[] = [];
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let handling!: () => void;
  const handlingStarted = new Promise<void>((resolve) => (handling = resolve));
  const app = await startWorkerApp({
    config: configWith(["a", "b"]),
    logger,
    access,
    build({ stack }) {
      stack.push(() => order.push("build's part stopped"));
      return {
        handlers: {
          a: async (msg) => {
            received.push(msg.subject);
            handling();
            await released;
            order.push("handler done");
          },
          // Not started: its messages wait in the stream.
          b: undefined,
        },
        own: 42,
      };
    },
  });
  expect(app.own).toBe(42);
  await jetstream(nc).publish(`${tag}.a.1`, new Uint8Array());
  await handlingStarted;
  expect(received).toEqual([`${tag}.a.1`]);
  const stopping = app.stop();
  // The consumer waits for the message in hand; what build started is still up.
  await new Promise((r) => setImmediate(r));
  expect(order).toEqual([]);
  release();
  await stopping;
  expect(order).toEqual(["handler done", "build's part stopped"]);
  const jsm = await jetstreamManager(nc);
  await expect(jsm.consumers.info(stream, `${tag}-b`)).rejects.toThrow();
});

it("refuses to start with a consumer that has no handler, or a handler of no consumer, naming them", async () => {
  let stopped = 0;
  const start = (handlers: Record<string, (() => Promise<void>) | undefined>) =>
    startWorkerApp({
      config: configWith(["a", "b"]),
      logger,
      access,
      build({ stack }) {
        stack.push(() => stopped++);
        // A config typed by its names refuses these maps (below); one read at run time reaches the check.
        return { handlers, own: undefined };
      },
    });
  await expect(start({ a: async () => undefined })).rejects.toThrow('consumer "b" has no handler');
  await expect(start({ a: async () => undefined, b: undefined, c: async () => undefined })).rejects.toThrow(
    'handler "c" names no consumer',
  );
  // What build started is stopped again.
  expect(stopped).toBe(2);
});

it("types the handlers by the config's consumer names", () => {
  type Config = { consumers: Record<"a" | "b", ReturnType<typeof configWith>["consumers"][string]> };
  const handle = async () => undefined;
  const complete: ConsumerHandlers<Config> = { a: handle, b: { handle, concurrency: 4 } };
  // @ts-expect-error: "b" has no handler
  const missing: ConsumerHandlers<Config> = { a: handle };
  // @ts-expect-error: "c" is no consumer of the config
  const unknown: ConsumerHandlers<Config> = { a: handle, b: undefined, c: handle };
  expect([complete, missing, unknown]).toHaveLength(3);
});
