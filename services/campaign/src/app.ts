import { createClient } from "@connectrpc/connect";
import { startServiceApp, type ServiceApp, type ServiceAppOptions } from "@adbudget/kit";
import { ACCESS } from "@adbudget/topology";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { CampaignClockServiceImpl } from "./campaign-clock-service.js";
import { CampaignServiceImpl, type CampaignServiceDeps } from "./campaign-service.js";
import { countByServing } from "./campaign-reads.js";
import { CampaignStore } from "./campaign-store.js";
import type { CampaignConfig } from "./config.js";
import { brandEventHandler, budgetEventHandler } from "./event-handlers.js";
import { OUTBOX_CHANNEL, OUTBOX_LOCK_KEY, outboxMessages } from "./events.js";
import { migrations } from "./migrations/index.js";
import { routes } from "./routes.js";
import { WatchHub } from "./watch-hub.js";

/**
 * Events applied at once per consumer: each is a transaction of a few milliseconds on its own
 * pooled connection, so 8 (of the pool's 10) keep up with bursts while leaving connections for
 * the API.
 */
const EVENT_CONCURRENCY = 8;

/** What the campaign service's tests reach: its store and its watch hub. */
interface CampaignOwn {
  readonly store: CampaignStore;
  /** The WatchCampaigns streams' hub (tests count its watchers). */
  readonly hub: WatchHub;
}

export interface CampaignApp extends ServiceApp<CampaignOwn> {
  readonly store: CampaignStore;
}

/**
 * The campaign service's own wiring on the kit's composition root: the store, the watch hub fed
 * by campaign events, the durable consumers of budget and brand events, the gauges of serving
 * campaigns, and the two services it serves. Campaigns are written with SQL in one transaction
 * with their audit rows and events: no ORM entities (the migrations are the schema).
 */
export async function startCampaignApp(
  config: CampaignConfig,
  options: ServiceAppOptions & { onScheduleChanged?: CampaignServiceDeps["onScheduleChanged"] } = {},
): Promise<CampaignApp> {
  const app = await startServiceApp({
    config,
    options,
    schema: { entities: [], migrations, access: "sql" },
    outbox: { stream: config.stream, channel: OUTBOX_CHANNEL, lockKey: OUTBOX_LOCK_KEY },
    services: [CampaignService, CampaignClockService],
    access: ACCESS,
    build({ pool, nc, logger, metrics, now, stack, transport }) {
      const campaigns = new CampaignStore(
        pool,
        (changes, nowMs) => outboxMessages(config.subjectPrefix, changes, nowMs),
        OUTBOX_CHANNEL,
      );
      const hub = new WatchHub(nc, config.subjectPrefix, logger.child({ component: "watch" }), config.watchBuffer);
      hub.start();
      stack.push(async () => hub.stop());
      metrics.gauge(
        "adbudget_campaigns_serving",
        "Live campaigns serving now.",
        async () => (await countByServing(pool)).serving,
      );
      metrics.gauge(
        "adbudget_campaigns_paused",
        "Live campaigns not serving now.",
        async () => (await countByServing(pool)).paused,
      );
      const brands = createClient(BrandService, transport(config.urls.brand));
      const impl = new CampaignServiceImpl({
        store: campaigns,
        brands,
        hub,
        logger,
        now,
        onScheduleChanged: options.onScheduleChanged,
      });
      const campaignClock = new CampaignClockServiceImpl({ store: campaigns, logger, now });
      return {
        routes: (router) => routes(router, impl, campaignClock),
        handlers: {
          // Budget events carry their sequence: applied in any order, several at once (a burst of
          // exhaustions must not queue behind each other's transactions).
          "budget-events": { handle: budgetEventHandler(campaigns, logger, now), concurrency: EVENT_CONCURRENCY },
          "brand-events": { handle: brandEventHandler(campaigns, logger, now), concurrency: EVENT_CONCURRENCY },
        },
        own: { store: campaigns, hub },
      };
    },
  });
  return { ...app, store: app.own.store };
}
