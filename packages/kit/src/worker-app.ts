import type { Transport } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/transport-node";
import { connectNats, StopStack } from "./lifecycle.js";
import { createLogger, type Logger } from "./logger.js";
import type { AccessModel } from "./principal.js";
import { startConsumers, workloadClients, type ConsumerHandlers, type WorkloadConfig } from "./workload.js";

/** The settings of a worker app: a workload's, nothing more (a worker adds its own beside them). */
export type WorkerAppConfig = WorkloadConfig;

/** What the kit builds for a worker, handed to the worker's own wiring. */
export interface WorkerParts<C extends WorkerAppConfig = WorkerAppConfig> {
  config: C;
  logger: Logger;
  nc: NatsConnection;
  /**
   * Things to stop with the worker, last started first. The consumers are started after `build`,
   * so they stop before anything `build` pushes here.
   */
  stack: StopStack;
  /** A transport for a typed client of a service (trace context, the worker's identity, TLS). */
  transport: (url: string) => Transport;
}

/** What a worker's `build` gives back: a handler for each of its consumers, and its own parts. */
export interface WorkerWiring<C extends WorkerAppConfig, T> {
  /** One per consumer of `config.consumers` (the topology's), started by the kit after `build`. */
  handlers: ConsumerHandlers<C>;
  /** The worker's own parts (its engine, its clients), handed back as `WorkerApp.own`. */
  own: T;
}

export interface WorkerAppSpec<C extends WorkerAppConfig, T> {
  config: C;
  logger?: Logger;
  /** The system's roles and scope claim (the worker serves no RPC: only its own token needs it). */
  access: AccessModel;
  /**
   * Wires the worker's own parts on the shared ones and starts them, pushing on `parts.stack`
   * how to stop them; returns its consumers' handlers and its parts. Its metrics, if any, are its
   * own: the kit's Metrics count RPCs served, and a worker serves none (a Temporal worker's SDK
   * serves its own on the worker's metrics port).
   */
  build(parts: WorkerParts<C>): WorkerWiring<C, T> | Promise<WorkerWiring<C, T>>;
}

export interface WorkerApp<T> {
  readonly logger: Logger;
  readonly own: T;
  /** Graceful stop: the consumers first, then what `build` started, then NATS (reverse order). */
  stop(): Promise<void>;
}

/**
 * The composition root of a process that serves no RPC but consumes events and calls the
 * services (the sibling of startServiceApp): logger, NATS, the identity and transport of its
 * calls, every consumer of its config with the handler `build` gives it, and the stop order.
 * What is the worker's own (an engine it runs, its clients) is wired in `build`.
 */
export async function startWorkerApp<C extends WorkerAppConfig, T>(spec: WorkerAppSpec<C, T>): Promise<WorkerApp<T>> {
  const { config } = spec;
  const logger = spec.logger ?? createLogger(config.name, config.logLevel);
  const stack = new StopStack(logger);
  try {
    const { transport } = workloadClients(config, config.identity, spec.access, logger);
    const nc = await connectNats(config.natsUrl, `adbudget-${config.name}`, stack, config.natsAuth);
    const { handlers, own } = await spec.build({ config, logger, nc, stack, transport });
    // After `build`: a handler may use any of the worker's parts, and stops before them.
    startConsumers(nc, config.consumers, handlers, logger, stack);
    return { logger, own, stop: () => stack.run() };
  } catch (err) {
    await stack.run();
    throw err;
  }
}
