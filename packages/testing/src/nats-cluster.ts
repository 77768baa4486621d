/**
 * A NATS cluster of a test's own: `size` nats-servers with JetStream, routed to each other on
 * 127.0.0.1, as a production NATS runs (three servers, streams kept by all three). The services
 * take its servers as one NATS_URL, comma-separated, and move to another server when theirs dies.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { randomBytes } from "node:crypto";
import { startNatsServer, type NatsServerProcess } from "./nats-server.js";
import { freePort } from "./ports.js";

export interface NatsCluster {
  /** Its servers, by server name ("n1", "n2", ...). */
  readonly nodes: ReadonlyMap<string, NatsServerProcess>;
  /** Every server's client URL, comma-separated: what NATS_URL takes. */
  readonly url: string;
  stop(): Promise<void>;
}

/** Starts the cluster and waits until JetStream answers (its servers elected a meta leader). */
export async function startNatsCluster(size = 3): Promise<NatsCluster> {
  const name = `adbudget-test-${randomBytes(3).toString("hex")}`;
  const routePorts = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = routePorts.map((p) => `nats-route://127.0.0.1:${p}`);
  const nodes = new Map<string, NatsServerProcess>();
  try {
    for (const [i, port] of routePorts.entries()) {
      const server = `n${i + 1}`;
      const config = [
        `server_name: ${server}`,
        `cluster { name: ${name}, listen: "127.0.0.1:${port}", routes: [${routes.map((r) => `"${r}"`).join(", ")}] }`,
      ].join("\n");
      nodes.set(server, await startNatsServer({ config }));
    }
    await jetStreamReady([...nodes.values()].map((n) => n.url).join(","));
  } catch (err) {
    await Promise.all([...nodes.values()].map((n) => n.stop()));
    throw err;
  }
  const url = [...nodes.values()].map((n) => n.url).join(",");
  return { nodes, url, stop: () => Promise.all([...nodes.values()].map((n) => n.stop())).then(() => undefined) };
}

/** Waits until the cluster's JetStream answers an account request (30 s: the election takes a few). */
async function jetStreamReady(url: string): Promise<void> {
  const nc = await connect({ servers: url.split(",") });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await (await jetstreamManager(nc, { timeout: 2000 })).getAccountInfo();
        return;
      } catch (err) {
        if (Date.now() > deadline) throw new Error("the NATS cluster's JetStream did not come up", { cause: err });
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    await nc.close();
  }
}
