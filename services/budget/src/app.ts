import { createValidator } from "@bufbuild/protovalidate";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type pg from "pg";
import {
  tracePropagationInterceptor,
  connectNats,
  serverOptionsFrom,
  startOutboxRelay,
  type OutboxRelay,
  StopStack,
  createLogger,
  createPgPool,
  databaseProbe,
  Metrics,
  migrate,
  openDatabase,
  startServer,
  type Logger,
  type RunningServer,
  offsetClock,
} from "@adbudget/kit";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { BudgetClockServiceImpl } from "./clock-service.js";
import { ZoneLocks } from "./zone-locks.js";
import { BrandDirectory } from "./brand-directory.js";
import { CampaignDirectory } from "./campaign-directory.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { BudgetServiceImpl } from "./budget-service.js";
import { BudgetStore } from "./budget-store.js";
import type { BudgetConfig } from "./config.js";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";
import { OUTBOX_CHANNEL, OUTBOX_LOCK_KEY } from "./events.js";
import { routes } from "./routes.js";
import { SpendWriter } from "./spend-writer.js";

export interface BudgetApp {
  readonly server: RunningServer;
  readonly logger: Logger;
  readonly relay: OutboxRelay;
  readonly pool: pg.Pool;
  stop(): Promise<void>;
}

/**
 * Wires the budget service: its database (migrated unless disabled), the brand directory over
 * BrandService, the group-commit spend writer, the outbox relay to JetStream, and the server.
 */
export async function startBudgetApp(
  config: BudgetConfig,
  options: { logger?: Logger; healthIntervalMs?: number; relayPollMs?: number } = {},
): Promise<BudgetApp> {
  const logger = options.logger ?? createLogger(config.name, config.logLevel);
  const orm = await openDatabase({ url: config.databaseUrl, entities, migrations, logger, poolMax: config.poolMax });
  const stack = new StopStack(logger);
  stack.push(() => orm.close());
  try {
    if (config.migrateOnStart) await migrate(orm, logger);
    // The ledger's own pool: plain `pg` (Date for timestamptz, text for int8 -> BigInt), with the
    // named prepared statements of the hot path. MikroORM keeps its pool for migrations and ORM reads.
    const pool = createPgPool(config.databaseUrl, config.poolMax, logger);
    stack.push(() => pool.end());
    const metrics = new Metrics(config.name);
    const nc = await connectNats(config.natsUrl, "adbudget-budget", stack);
    const relay = startOutboxRelay(pool, nc, logger, {
      stream: config.stream,
      subjects: [`${config.subjectPrefix}.budget.>`],
      channel: OUTBOX_CHANNEL,
      lockKey: OUTBOX_LOCK_KEY,
      pollMs: options.relayPollMs,
    }, stack, metrics);

    const brandClient = createClient(BrandService, createGrpcTransport({ baseUrl: config.brandServiceUrl, interceptors: [tracePropagationInterceptor] }));
    const brands = new BrandDirectory(brandClient, logger, { ttlMs: config.brandCacheTtlMs });
    const clock = offsetClock(config.clockOffsetMs);
    const writer = new SpendWriter(pool, logger, {
      now: clock,
      maxBatch: config.spendMaxBatch,
      concurrency: config.spendConcurrency,
      subjectPrefix: config.subjectPrefix,
      onEvents: () => relay.wake(),
    });
    const store = new BudgetStore(pool, config.subjectPrefix, () => relay.wake());
    const zones = new ZoneLocks(pool, brandClient, logger, clock);
    const campaigns = config.campaignServiceUrl
      ? new CampaignDirectory(createClient(CampaignService, createGrpcTransport({ baseUrl: config.campaignServiceUrl, interceptors: [tracePropagationInterceptor] })))
      : undefined;
    const spendEvents = metrics.counter("adbudget_spend_events_total", "Spend events answered by RecordSpend(Batch), new or duplicate.", ["result"]);
    const spendMicros = metrics.counter("adbudget_spend_micros_total", "Micros of newly recorded spend (all currencies; for rates, not accounting).");
    const impl = new BudgetServiceImpl({
      store, writer, brands, zones, campaigns, validator: createValidator(), logger, now: clock,
      onSpend: (duplicate, amount) => {
        spendEvents.inc({ result: duplicate ? "duplicate" : "recorded" });
        if (!duplicate) spendMicros.inc(Number(amount));
      },
    });
    const clockImpl = new BudgetClockServiceImpl({ store, brands, zones, logger, now: clock });
    const server = await startServer({
      ...serverOptionsFrom(config),
      logger,
      services: [BudgetService, BudgetClockService],
      routes: (router) => routes(router, impl, clockImpl),
      // Readiness is the database: without it nothing can be recorded. NATS down only delays
      // events (they wait in the outbox), so it does not take the service out of rotation.
      probes: { database: databaseProbe(orm) },
      healthIntervalMs: options.healthIntervalMs,
      metrics,
    });
    return {
      server,
      logger,
      relay,
      pool,
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
