import { createValidator } from "@bufbuild/protovalidate";
import { createClient } from "@connectrpc/connect";
import { startServiceApp, type ServiceApp, type ServiceAppOptions } from "@adbudget/kit";
import { ACCESS } from "@adbudget/topology";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { BrandDirectory } from "./brand-directory.js";
import { BudgetClockServiceImpl } from "./budget-clock-service.js";
import { AlertWatch } from "./alert-watch.js";
import { BudgetServiceImpl } from "./budget-service.js";
import { BudgetStore } from "./budget-store.js";
import { campaignEventHandler } from "./campaign-caps.js";
import { CampaignDirectory } from "./campaign-directory.js";
import type { BudgetConfig } from "./config.js";
import { OUTBOX_CHANNEL, OUTBOX_LOCK_KEY } from "./events.js";
import { migrations } from "./migrations/index.js";
import { PacingLoop } from "./pacing-loop.js";
import { PacingProfiles } from "./pacing-profile.js";
import { routes } from "./routes.js";
import { SpendWriter } from "./spend-writer.js";
import { ZoneLocks } from "./zone-locks.js";

export type BudgetApp = ServiceApp;

/**
 * The budget service's own wiring on the kit's composition root: the brand and campaign
 * directories over typed clients, the zone locks, the group-commit spend writer, the store,
 * spend metrics, and the two services it serves. The ledger is written with set-based SQL: no
 * ORM entities (the migrations are the schema).
 */
export async function startBudgetApp(config: BudgetConfig, options: ServiceAppOptions = {}): Promise<BudgetApp> {
  return startServiceApp({
    config,
    options,
    schema: { entities: [], migrations, access: "sql" },
    outbox: { stream: config.stream, channel: OUTBOX_CHANNEL, lockKey: OUTBOX_LOCK_KEY },
    services: [BudgetService, BudgetClockService],
    access: ACCESS,
    build({ pool, relay, nc, stack, logger, metrics, now, transport }) {
      const brandClient = createClient(BrandService, transport(config.urls.brand));
      const brands = new BrandDirectory(brandClient, logger, { ttlMs: config.brandCacheTtlMs });
      const zones = new ZoneLocks(pool, brandClient, logger, now);
      const campaigns = config.urls.campaign
        ? new CampaignDirectory(createClient(CampaignService, transport(config.urls.campaign)))
        : undefined;
      const wake = () => relay.wake();
      const writer = new SpendWriter(pool, logger, {
        now,
        maxBatch: config.spendMaxBatch,
        concurrency: config.spendConcurrency,
        subjectPrefix: config.subjectPrefix,
        onEvents: wake,
      });
      const store = new BudgetStore(pool, config.subjectPrefix, wake);
      const profiles = new PacingProfiles(pool);
      const pacing = new PacingLoop({
        pool,
        brands,
        profiles,
        prefix: config.subjectPrefix,
        logger: logger.child({ component: "pacing" }),
        now,
        intervalMs: config.pacingIntervalMs,
        horizonMs: config.pacingHorizonMs,
        onEvents: wake,
      });
      pacing.start();
      stack.push(async () => pacing.stop());
      const spendEvents = metrics.counter(
        "adbudget_spend_events_total",
        "Spend events answered by RecordSpend(Batch), new or duplicate.",
        ["result"],
      );
      const spendMicros = metrics.counter(
        "adbudget_spend_micros_total",
        "Micros of newly recorded spend (all currencies; for rates, not accounting).",
      );
      const alerts = new AlertWatch(nc, config.subjectPrefix, logger.child({ component: "alerts" }));
      stack.push(async () => alerts.stop());
      const budget = new BudgetServiceImpl({
        store,
        writer,
        brands,
        zones,
        campaigns,
        alerts,
        validator: createValidator(),
        logger,
        now,
        profiles,
        onSpend: (duplicate, amount) => {
          spendEvents.inc({ result: duplicate ? "duplicate" : "recorded" });
          if (!duplicate) spendMicros.inc(Number(amount));
        },
      });
      const budgetClock = new BudgetClockServiceImpl({ store, brands, zones, logger, now });
      return {
        routes: (router) => routes(router, budget, budgetClock),
        handlers: {
          // Campaign caps: each campaign's daily_limit_micros from its events (campaign-caps.ts).
          // Without a campaign service (CAMPAIGN_SERVICE_URL=none) there are no campaigns to cap.
          "campaign-events":
            campaigns &&
            campaignEventHandler({ pool, brands, prefix: config.subjectPrefix, logger, now, onEvents: wake }),
        },
        own: undefined,
      };
    },
  });
}
