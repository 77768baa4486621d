import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import {
  tracePropagationInterceptor,
  connectNats,
  serverOptionsFrom,
  startOutboxRelay,
  StopStack,
  Metrics,
  UnavailableError,
  createLogger,
  createPgPool,
  databaseProbe,
  migrate,
  openDatabase,
  startServer,
  type Logger,
  type RunningServer,
  offsetClock,
  OutboxEntity,
} from "@adbudget/kit";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BrandServiceImpl } from "./brand-service.js";
import { BrandStore } from "./brand-store.js";
import type { BrandConfig } from "./config.js";
import { BrandEntity } from "./entities.js";
import { brandEvent, OUTBOX_CHANNEL, OUTBOX_LOCK_KEY } from "./events.js";
import { migrations } from "./migrations/index.js";
import { routes } from "./routes.js";

/** Asks BudgetService whether a brand has any spend event; UNAVAILABLE if it cannot tell. */
function hasSpend(budget: Client<typeof BudgetService>) {
  return async (brandId: string): Promise<boolean> => {
    try {
      const { events } = await budget.listSpendEvents({ brandId, pageSize: 1 }, { timeoutMs: 3000 });
      return events.length > 0;
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return false;
      throw new UnavailableError("budget service unavailable: cannot check the brand's spend before a zone change");
    }
  };
}

export interface BrandApp {
  readonly server: RunningServer;
  readonly logger: Logger;
  stop(): Promise<void>;
}

/**
 * Wires the brand service: database (migrated unless disabled), store, the outbox relay of
 * brand events to JetStream, implementation and the shared server. Used by main.ts and, with a test database and port 0, by the tests.
 */
export async function startBrandApp(
  config: BrandConfig,
  options: { logger?: Logger; healthIntervalMs?: number; relayPollMs?: number } = {},
): Promise<BrandApp> {
  const logger = options.logger ?? createLogger(config.name, config.logLevel);
  const orm = await openDatabase({ url: config.databaseUrl, entities: [BrandEntity, OutboxEntity], migrations, logger });
  const stack = new StopStack(logger);
  stack.push(() => orm.close());
  try {
    if (config.migrateOnStart) await migrate(orm, logger);
    const pool = createPgPool(config.databaseUrl, 2, logger);
    stack.push(() => pool.end());
    const metrics = new Metrics(config.name);
    const nc = await connectNats(config.natsUrl, "adbudget-brand", stack);
    const relay = startOutboxRelay(pool, nc, logger, {
      stream: config.stream,
      subjects: [`${config.subjectPrefix}.brand.>`],
      channel: OUTBOX_CHANNEL,
      lockKey: OUTBOX_LOCK_KEY,
      pollMs: options.relayPollMs,
    }, stack, metrics);
    const store = new BrandStore(orm, (row, type, now) => brandEvent(config.subjectPrefix, row, type, now), () => relay.wake());
    const budget = config.budgetServiceUrl
      ? createClient(BudgetService, createGrpcTransport({ baseUrl: config.budgetServiceUrl, interceptors: [tracePropagationInterceptor] }))
      : undefined;
    const clock = offsetClock(config.clockOffsetMs);
    const impl = new BrandServiceImpl({ store, logger, hasSpend: budget && hasSpend(budget), now: () => new Date(clock()) });
    const server = await startServer({
      ...serverOptionsFrom(config),
      logger,
      services: [BrandService],
      routes: (router) => routes(router, impl),
      probes: { database: databaseProbe(orm) },
      healthIntervalMs: options.healthIntervalMs,
      metrics,
    });
    return {
      server,
      logger,
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
