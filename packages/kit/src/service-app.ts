import type { DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, Interceptor, Transport } from "@connectrpc/connect";
import type { NatsConnection } from "@nats-io/transport-node";
import type pg from "pg";
import { createAuthGate } from "./auth-gate.js";
import type { ServiceConfig } from "./config.js";
import { migrate, openDatabase, poolProbe, type DatabaseOptions, type MikroORM } from "./db.js";
import { connectNats, serverOptionsFrom, startOutboxRelay, StopStack } from "./lifecycle.js";
import { createLogger, type Logger } from "./logger.js";
import { checkMethodRules } from "./method-rules.js";
import { Metrics } from "./metrics.js";
import { shiftedNow, type Now } from "./now.js";
import type { OutboxRelay, RelayOptions } from "./outbox-relay.js";
import { createPgPool } from "./pg-pool.js";
import { checkQuotas, createQuotaInterceptor, QuotaLimiter } from "./quotas.js";
import type { AccessModel } from "./principal.js";
import type { StreamDefinition } from "./streams.js";
import { startServer, type RunningServer } from "./server.js";
import { startConsumers, workloadClients, type ConsumerHandlers, type WorkloadConfig } from "./workload.js";

/** The settings a service app needs beyond ServiceConfig: its consumers (WorkloadConfig), its pool. */
export interface ServiceAppConfig extends ServiceConfig, WorkloadConfig {
  natsUrl: string;
  /** Connections of the service's one database pool. */
  poolMax: number;
}

/** What the kit builds for every service, handed to the service's own wiring. */
export interface ServiceParts<C extends ServiceAppConfig = ServiceAppConfig> {
  config: C;
  logger: Logger;
  /** The service's one PostgreSQL pool: its requests, its relay and its readiness probe use it. */
  pool: pg.Pool;
  /** MikroORM, for a service that reads and writes through it (`schema.access: "orm"`). */
  orm: MikroORM | undefined;
  nc: NatsConnection;
  /** The outbox relay: every service publishes its changes through its transactional outbox. */
  relay: OutboxRelay;
  metrics: Metrics;
  /** "Now" for the service's rules: the wall clock shifted by CLOCK_OFFSET_MS (tests, demos). */
  now: Now;
  /** Things to stop with the service, last started first. */
  stack: StopStack;
  /** A transport for a typed client of another service (the trace context travels with calls). */
  transport: (url: string) => Transport;
}

/** What a service's `build` gives back: how to route its RPCs, and a handler for each of its consumers. */
export interface ServiceWiring<C extends ServiceAppConfig = ServiceAppConfig, T = undefined> {
  routes: (router: ConnectRouter) => void;
  /** One per consumer of `config.consumers` (the topology's), started by the kit after `build`. */
  handlers: ConsumerHandlers<C>;
  /** The service's own parts that its callers (tests, harnesses) reach, handed back as `ServiceApp.own`. */
  own: T;
}

/** What the starter of a service (the launcher, a test) may set: the same for every service. */
export interface ServiceAppOptions {
  logger?: Logger;
  healthIntervalMs?: number;
  /** The outbox relay's fallback poll when no notification arrives (tests shorten it). */
  relayPollMs?: number;
  /**
   * "Now" for the service's rules instead of the wall clock shifted by CLOCK_OFFSET_MS: a clock
   * a test moves (the model-based race test runs every service on one clock it jumps across
   * local midnights). Production never sets it.
   */
  now?: Now;
}

/** A service's outbox: the stream it is published to, and its LISTEN channel and advisory lock. */
export interface OutboxSpec {
  stream: StreamDefinition;
  channel: string;
  lockKey: number;
}

export interface ServiceAppSpec<C extends ServiceAppConfig = ServiceAppConfig, T = undefined> {
  config: C;
  options?: ServiceAppOptions;
  schema: Pick<DatabaseOptions, "entities" | "migrations"> & {
    /**
     * "sql": the service reads and writes with set-based SQL on a `pg` pool; MikroORM only runs
     * the migrations and is closed again. "orm": the service reads and writes through MikroORM,
     * and MikroORM's pool is the service's pool.
     */
    access: "sql" | "orm";
  };
  /** The service's transactional outbox (every service publishes its changes through one). */
  outbox: OutboxSpec;
  /** The services this server serves: announced by reflection and health. */
  services: DescService[];
  /** The system's roles and scope claim, for the callers' tokens (checked against every RPC's rule at start). */
  access: AccessModel;
  /** Wires the service's own parts on the shared ones; returns its routes and consumer handlers. */
  build(parts: ServiceParts<C>): ServiceWiring<C, T> | Promise<ServiceWiring<C, T>>;
}

export interface ServiceApp<T = undefined> {
  readonly server: RunningServer;
  readonly logger: Logger;
  readonly pool: pg.Pool;
  readonly relay: OutboxRelay;
  /** What the service's `build` handed back as its own (ServiceWiring.own). */
  readonly own: T;
  /** Graceful stop: the server first (NOT_SERVING, drain), then everything else in reverse order. */
  stop(): Promise<void>;
}

/**
 * The one composition root of the services: database (migrated unless MIGRATE_ON_START=false)
 * and its one pool, NATS, the outbox relay, metrics, the server with reflection, health (ready
 * while the pool answers) and every interceptor, every consumer of its config with the handler
 * `build` gives it, and the stop order. A service's app.ts holds only what is its own: its
 * stores, clients, handlers and routes, in `build`.
 */
export async function startServiceApp<C extends ServiceAppConfig, T = undefined>(
  spec: ServiceAppSpec<C, T>,
): Promise<ServiceApp<T>> {
  const { config, options = {} } = spec;
  const logger = options.logger ?? createLogger(config.name, config.logLevel);
  checkAccessRules(spec.services, Object.keys(spec.access.roles), logger);
  const stack = new StopStack(logger);
  try {
    const { pool, orm } = await openServiceDatabase(spec, logger, stack);
    const metrics = new Metrics(config.name);
    const { auth, transport } = workloadClients(config, config.identity, spec.access, logger);
    const nc = await connectNats(config.natsUrl, `adbudget-${config.name}`, stack, config.natsAuth);
    const relay = startOutboxRelay(pool, nc, logger, relayOptions(spec.outbox, options), stack, metrics);
    const parts: ServiceParts<C> = {
      config,
      logger,
      pool,
      orm,
      nc,
      relay,
      metrics,
      now: options.now ?? shiftedNow(config.clockOffsetMs),
      stack,
      transport,
    };
    const { routes, handlers, own } = await spec.build(parts);
    const quotas = quotaInterceptors(spec, auth.verifier !== undefined, logger);
    // After `build`: a handler may use any of the service's parts, and stops before them.
    startConsumers(nc, config.consumers, handlers, logger, stack);
    const server = await startServer({
      ...serverOptionsFrom(config),
      logger,
      services: spec.services,
      routes,
      // Readiness is the database the requests use: without it nothing can be served. NATS down
      // only delays events (they wait in the outbox), so it does not take a service out of rotation.
      probes: { database: poolProbe(pool) },
      // With client certificates asked for, a workload's token needs its workload's certificate too.
      requestGate:
        auth.verifier &&
        createAuthGate(
          auth.verifier,
          logger,
          metrics,
          config.tlsClientAuth === "none" ? undefined : spec.access.workloadCertificates,
        ),
      healthIntervalMs: options.healthIntervalMs,
      metrics,
      interceptors: quotas,
    });
    return {
      server,
      logger,
      pool,
      relay,
      own,
      async stop() {
        await server.close();
        await stack.run();
      },
    };
  } catch (err) {
    await stack.run();
    throw err;
  }
}

/**
 * Refuses to start with an RPC rule naming a role no token can carry (it would quietly refuse the
 * callers it meant), and says which RPCs have no rule (refused to everyone: default deny).
 */
function checkAccessRules(services: readonly DescService[], roles: readonly string[], logger: Logger): void {
  const { unknownRoles, withoutRule } = checkMethodRules(services, roles);
  if (unknownRoles.length > 0)
    throw new Error(
      `access rules name unknown roles (known: ${roles.join(", ")}):\n  - ${unknownRoles.join("\n  - ")}`,
    );
  for (const rpc of withoutRule)
    logger.warn({ rpc }, "this RPC has no access rule: every caller is refused (default deny)");
}

/**
 * The callers' quotas (the access model's), on a monotonic clock (or a test's): none without
 * authentication (no principal to count) or with QUOTAS=off (said in the log).
 */
function quotaInterceptors(
  spec: Pick<ServiceAppSpec, "access" | "services" | "config" | "options">,
  authenticated: boolean,
  logger: Logger,
): Interceptor[] {
  const model = spec.access.quotas;
  if (model === undefined || !authenticated) return [];
  if (!spec.config.quotas) {
    logger.warn("QUOTAS=off: callers are not rate limited (benchmarks and test setups only)");
    return [];
  }
  const problems = checkQuotas(model, spec.services);
  if (problems.length > 0) throw new Error(`quota rules:\n  - ${problems.join("\n  - ")}`);
  // A monotonic clock (NTP stepping the wall clock back would stop refills), unless a test moves one.
  const clock = spec.options?.now ?? (() => performance.now());
  return [createQuotaInterceptor(new QuotaLimiter(model, clock))];
}

function relayOptions(outbox: OutboxSpec, options: ServiceAppOptions): Omit<RelayOptions, "onPublished"> {
  const { stream, channel, lockKey } = outbox;
  return { stream, channel, lockKey, pollMs: options.relayPollMs };
}

/** The service's database and its one pool (see ServiceAppSpec.schema.access). */
async function openServiceDatabase(
  spec: Pick<ServiceAppSpec, "config" | "schema">,
  logger: Logger,
  stack: StopStack,
): Promise<{ pool: pg.Pool; orm: MikroORM | undefined }> {
  const { config, schema } = spec;
  if (schema.access === "sql") {
    if (config.migrateOnStart) {
      const orm = await openDatabase({ url: config.databaseUrl, ...schema, logger, poolMax: 1 });
      try {
        await migrate(orm, logger);
      } finally {
        await orm.close();
      }
    }
    const pool = createPgPool(config.databaseUrl, config.poolMax, logger);
    stack.push(() => pool.end());
    return { pool, orm: undefined };
  }
  const orm = await openDatabase({ url: config.databaseUrl, ...schema, logger, poolMax: config.poolMax });
  stack.push(() => orm.close());
  if (config.migrateOnStart) await migrate(orm, logger);
  return { pool: await orm.driver.getConnection().getNativeClient(), orm };
}
