import { connect, type NatsConnection } from "@nats-io/transport-node";
import type pg from "pg";
import type { ServiceConfig } from "./config.js";
import { OutboxRelay, type RelayOptions } from "./outbox-relay.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import type { NatsAuthOptions } from "./nats-auth.js";
import type { ServerOptions } from "./server.js";

/**
 * What a service started, to stop in reverse order: the last thing started (which depends on
 * the earlier ones) stops first. Errors while stopping are logged, not thrown: the rest must
 * still stop.
 */
export class StopStack {
  private readonly steps: (() => Promise<unknown>)[] = [];

  constructor(private readonly logger: Logger) {}

  push(step: () => unknown): void {
    this.steps.unshift(async () => step());
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0)) {
      await step().catch((err: unknown) => this.logger.warn({ err }, "error while stopping"));
    }
  }
}

/** The server options every service takes from its config alike. */
export function serverOptionsFrom(
  config: ServiceConfig,
): Pick<ServerOptions, "name" | "host" | "port" | "shutdownGraceMs" | "tls" | "metricsPort" | "clockOffsetMs"> {
  return {
    name: config.name,
    host: config.host,
    port: config.port,
    shutdownGraceMs: config.shutdownGraceMs,
    tls: config.tlsCertFile
      ? {
          certFile: config.tlsCertFile,
          keyFile: config.tlsKeyFile,
          caFile: config.tlsCaFile,
          clientAuth: config.tlsClientAuth,
        }
      : undefined,
    metricsPort: config.metricsPort,
    clockOffsetMs: config.clockOffsetMs,
  };
}

/**
 * Connects to NATS for the life of the process: reconnects forever (a NATS restart must not
 * take a service down), closed by `stack` on stop. `auth`: the workload's credentials and inbox
 * prefix (readNatsAuth; none = no authentication).
 */
/**
 * The servers of a NATS_URL: one, or a cluster's comma-separated (EnvReader.urlList). nats.js
 * given the list as one string connects to its last server only: split it always.
 */
export function natsServers(url: string): string[] {
  return url.split(",").map((u) => u.trim());
}

export async function connectNats(
  url: string,
  name: string,
  stack: StopStack,
  auth: NatsAuthOptions = {},
): Promise<NatsConnection> {
  const nc = await connect({
    servers: natsServers(url),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    ...auth,
  });
  stack.push(() => nc.close());
  return nc;
}

/**
 * Starts a service's outbox relay; `stack` stops it before the connections it uses close. With
 * `metrics`, it counts what it publishes (`adbudget_outbox_published_total`) and reports what
 * waits (`adbudget_outbox_pending`, read at scrape time).
 */
export function startOutboxRelay(
  pool: pg.Pool,
  nc: NatsConnection,
  logger: Logger,
  options: RelayOptions,
  stack: StopStack,
  metrics?: Metrics,
): OutboxRelay {
  let onPublished = options.onPublished;
  if (metrics !== undefined) {
    const published = metrics.counter(
      "adbudget_outbox_published_total",
      "Events published to NATS from the outbox (acknowledged by JetStream).",
    );
    onPublished = (n) => {
      published.inc(n);
      options.onPublished?.(n);
    };
  }
  const relay = new OutboxRelay(pool, nc, logger.child({ component: "outbox" }), { ...options, onPublished });
  if (metrics !== undefined)
    metrics.gauge("adbudget_outbox_pending", "Events committed but not yet published to NATS.", () => relay.pending());
  relay.start();
  stack.push(() => relay.stop());
  return relay;
}
