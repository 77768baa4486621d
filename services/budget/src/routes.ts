import type { ConnectRouter } from "@connectrpc/connect";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { BudgetServiceImpl } from "./budget-service.js";

/** Registers BudgetService on a router (a server, or createRouterTransport in tests). */
export function routes(router: ConnectRouter, impl: BudgetServiceImpl): void {
  router.service(BudgetService, impl);
}
