/**
 * What every workload shares, a service (service-app.ts) or a worker (worker-app.ts): its
 * identity on outgoing calls and the client transport that carries it, and its durable
 * consumers, started from its configuration with one handler each.
 */
import type { Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { loadAuth, type Auth, type AuthConfig } from "./auth-config.js";
import { startDurableConsumer, type DurableConsumerOptions } from "./consumer.js";
import type { StopStack } from "./lifecycle.js";
import type { Logger } from "./logger.js";
import type { NatsAuthOptions } from "./nats-auth.js";
import type { AccessModel } from "./principal.js";
import { clientTls, type ClientTlsSettings } from "./tls.js";
import { tracePropagationInterceptor } from "./tracing.js";

/** Where a durable consumer reads: its stream, durable and filter (a topology entry, as configured). */
export type ConsumerConfig = Pick<
  DurableConsumerOptions,
  "stream" | "streamSubjects" | "streamReplicas" | "durable" | "filterSubject"
>;

/** The settings every workload has, whatever else it does. */
export interface WorkloadConfig extends ClientTlsSettings {
  /** Its name: in logs, and the NATS connection's name (`adbudget-<name>`). */
  readonly name: string;
  readonly logLevel: string;
  readonly natsUrl: string;
  readonly natsAuth: NatsAuthOptions;
  /** Its identity on outgoing calls (and, for a service, the keys its callers' tokens are checked with). */
  readonly auth: AuthConfig;
  /** Who it is on its calls to the services: its token's subject and role (the topology's). */
  readonly identity: { readonly sub: string; readonly role: string };
  /** Its durable consumers by name, as configured (the topology's): each started with its handler. */
  readonly consumers: { readonly [name: string]: ConsumerConfig };
}

/**
 * How one consumer handles its messages: the handler alone (one message at a time, in stream
 * order), or with the options that belong to the handler's code. `concurrency` above 1 is safe
 * only for a handler that is idempotent AND order-insensitive, and is bounded by what the
 * workload's pool can spare: both properties of the handler and its process, so they stay beside
 * it rather than in the topology, which names where a consumer reads and who may.
 */
export type ConsumerHandler =
  | DurableConsumerOptions["handle"]
  | Pick<DurableConsumerOptions, "handle" | "concurrency" | "ackWaitMs" | "retryDelayMs">;

/** The names of the consumers of a workload's config. */
export type ConsumerNames<C extends Pick<WorkloadConfig, "consumers">> = keyof C["consumers"] & string;

/**
 * One handler for each consumer of the config: a consumer without one is a type error (and an
 * error at start). `undefined` starts it not, on purpose: a deployment without what the handler
 * needs (an optional service set to "none").
 */
export type ConsumerHandlers<C extends Pick<WorkloadConfig, "consumers">> = {
  readonly [N in ConsumerNames<C>]: ConsumerHandler | undefined;
};

/** A workload's identity on its calls, and the transport of its typed clients. */
export interface WorkloadClients {
  auth: Auth;
  /** A transport for a typed client of another service: trace context, identity token, TLS for https. */
  transport: (url: string) => Transport;
}

/**
 * Loads the workload's tokens (`identity` on its calls, `access` for its callers' tokens) and
 * makes the transport its clients call the services with.
 */
export function workloadClients(
  config: Pick<WorkloadConfig, "auth" | keyof ClientTlsSettings>,
  identity: { sub: string; role: string },
  access: AccessModel,
  logger: Logger,
): WorkloadClients {
  const auth = loadAuth(config.auth, identity, access);
  if (config.auth.disabled)
    logger.warn(
      "AUTH_DISABLED is set: every caller is let in and no credentials are checked (benchmarks and experiments only)",
    );
  return {
    auth,
    transport: (url) =>
      createGrpcTransport({
        baseUrl: url,
        interceptors: [tracePropagationInterceptor, ...auth.outgoing],
        ...clientTls(url, config),
      }),
  };
}

/**
 * Starts every consumer of `consumers` with its handler; `stack` stops them (last started first,
 * before the NATS connection closes). A consumer without a handler, or a handler for no
 * consumer, stops the start with an error naming it: the two lists are the topology's and the
 * app's, and a consumer that silently never runs loses nothing visibly until much later.
 */
export function startConsumers(
  nc: NatsConnection,
  consumers: WorkloadConfig["consumers"],
  handlers: { readonly [name: string]: ConsumerHandler | undefined },
  logger: Logger,
  stack: StopStack,
): void {
  const names = Object.keys(consumers);
  const missing = names.filter((name) => !Object.hasOwn(handlers, name));
  const unknown = Object.keys(handlers).filter((name) => !Object.hasOwn(consumers, name));
  if (missing.length > 0 || unknown.length > 0) {
    throw new Error(
      [
        ...missing.map((name) => `consumer "${name}" has no handler`),
        ...unknown.map((name) => `handler "${name}" names no consumer (known: ${names.join(", ") || "none"})`),
      ].join("; "),
    );
  }
  for (const name of names) {
    const handler = handlers[name];
    const component = logger.child({ component: name });
    if (handler === undefined) {
      component.info("consumer not started: this deployment has no handler for it");
      continue;
    }
    const options = typeof handler === "function" ? { handle: handler } : handler;
    startDurableConsumer(nc, { ...consumers[name], ...options, logger: component }, stack);
  }
}
