import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { startServiceApp, UnavailableError, type ServiceApp, type ServiceAppOptions } from "@adbudget/kit";
import { ACCESS } from "@adbudget/topology";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { BrandServiceImpl } from "./brand-service.js";
import { BrandStore } from "./brand-store.js";
import type { BrandConfig } from "./config.js";
import { entities } from "./entities.js";
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

export type BrandApp = ServiceApp;

/**
 * The brand service's own wiring on the kit's composition root: the store (MikroORM, whose
 * pool is the service's pool), the budget client asked before a zone change, and its routes.
 */
export async function startBrandApp(config: BrandConfig, options: ServiceAppOptions = {}): Promise<BrandApp> {
  return startServiceApp({
    config,
    options,
    schema: { entities, migrations, access: "orm" },
    outbox: { stream: config.stream, channel: OUTBOX_CHANNEL, lockKey: OUTBOX_LOCK_KEY },
    services: [BrandService],
    access: ACCESS,
    build({ orm, relay, logger, now, transport }) {
      // Given by the spec above (schema access "orm"): absent only if it changed.
      if (orm === undefined) throw new Error("the brand service needs its MikroORM");
      const store = new BrandStore(
        orm,
        (row, type, at, actor) => brandEvent(config.subjectPrefix, row, type, at, actor),
        () => relay.wake(),
      );
      const budget = config.urls.budget ? createClient(BudgetService, transport(config.urls.budget)) : undefined;
      const impl = new BrandServiceImpl({ store, logger, hasSpend: budget && hasSpend(budget), now });
      return { routes: (router) => routes(router, impl), handlers: {}, own: undefined };
    },
  });
}
