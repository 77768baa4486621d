import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
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
  DurableConsumer,
  Metrics,
  migrate,
  openDatabase,
  startServer,
  type Logger,
  type RunningServer,
  offsetClock,
} from "@adbudget/kit";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { brandEventHandler, budgetEventHandler } from "./budget-events.js";
import { CampaignServiceImpl, type CampaignServiceDeps } from "./campaign-service.js";
import { CampaignStore } from "./campaign-store.js";
import { CampaignClockServiceImpl } from "./clock-service.js";
import type { CampaignConfig } from "./config.js";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";
import { outboxMessages } from "./proto-mapping.js";
import { routes } from "./routes.js";
import { WatchHub } from "./watch-hub.js";

export const OUTBOX_CHANNEL = "campaign_outbox";
const OUTBOX_LOCK_KEY = 0x63616d70; // "camp"

export interface CampaignApp {
  readonly server: RunningServer;
  readonly logger: Logger;
  readonly store: CampaignStore;
  readonly relay: OutboxRelay;
  stop(): Promise<void>;
}

/**
 * Wires the campaign service: database, store, the durable consumer of budget events, the
 * outbox relay of campaign events, the watch hub fed by those events, and the server.
 */
export async function startCampaignApp(
  config: CampaignConfig,
  options: { logger?: Logger; healthIntervalMs?: number; relayPollMs?: number; onScheduleChanged?: CampaignServiceDeps["onScheduleChanged"] } = {},
): Promise<CampaignApp> {
  const logger = options.logger ?? createLogger(config.name, config.logLevel);
  const orm = await openDatabase({ url: config.databaseUrl, entities, migrations, logger });
  const stack = new StopStack(logger);
  stack.push(() => orm.close());
  try {
    if (config.migrateOnStart) await migrate(orm, logger);
    const pool = createPgPool(config.databaseUrl, config.poolMax, logger);
    stack.push(() => pool.end());
    const now = offsetClock(config.clockOffsetMs);
    const store = new CampaignStore(pool, (changes, nowMs) => outboxMessages(config.subjectPrefix, changes, nowMs), OUTBOX_CHANNEL);

    const metrics = new Metrics(config.name);
    const nc = await connectNats(config.natsUrl, "adbudget-campaign", stack);
    const relay = startOutboxRelay(pool, nc, logger, {
      stream: config.campaignStream,
      subjects: [`${config.subjectPrefix}.campaign.>`],
      channel: OUTBOX_CHANNEL,
      lockKey: OUTBOX_LOCK_KEY,
      pollMs: options.relayPollMs,
    }, stack, metrics);
    const hub = new WatchHub(nc, config.subjectPrefix, logger.child({ component: "watch" }), config.watchBuffer);
    hub.start();
    stack.push(async () => hub.stop());
    const budgetEvents = new DurableConsumer(nc, {
      stream: config.budgetStream,
      streamSubjects: [`${config.subjectPrefix}.budget.>`],
      durable: config.budgetConsumer,
      filterSubject: `${config.subjectPrefix}.budget.>`,
      handle: budgetEventHandler(store, logger, now),
      logger: logger.child({ component: "budget-events" }),
    });
    budgetEvents.start();
    stack.push(() => budgetEvents.stop());
    const brandEvents = new DurableConsumer(nc, {
      stream: config.brandStream,
      streamSubjects: [`${config.subjectPrefix}.brand.>`],
      durable: config.brandConsumer,
      filterSubject: `${config.subjectPrefix}.brand.>`,
      handle: brandEventHandler(store, logger, now),
      logger: logger.child({ component: "brand-events" }),
    });
    brandEvents.start();
    stack.push(() => brandEvents.stop());

    const brands = createClient(BrandService, createGrpcTransport({ baseUrl: config.brandServiceUrl, interceptors: [tracePropagationInterceptor] }));
    metrics.gauge("adbudget_campaigns_serving", "Live campaigns serving now.", async () =>
      Number((await pool.query<{ n: string }>("select count(*)::text as n from campaigns where serving and deleted_at is null")).rows[0]!.n));
    metrics.gauge("adbudget_campaigns_paused", "Live campaigns not serving now.", async () =>
      Number((await pool.query<{ n: string }>("select count(*)::text as n from campaigns where not serving and deleted_at is null")).rows[0]!.n));
    const impl = new CampaignServiceImpl({ store, brands, hub, logger, now, onScheduleChanged: options.onScheduleChanged });
    const clock = new CampaignClockServiceImpl({ store, logger, now });
    const server = await startServer({
      ...serverOptionsFrom(config),
      logger,
      services: [CampaignService, CampaignClockService],
      routes: (router) => routes(router, impl, clock),
      probes: { database: databaseProbe(orm) },
      healthIntervalMs: options.healthIntervalMs,
      metrics,
    });
    return {
      server,
      logger,
      store,
      relay,
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
