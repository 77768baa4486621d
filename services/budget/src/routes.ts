import type { ConnectRouter } from "@connectrpc/connect";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { BudgetServiceImpl } from "./budget-service.js";
import type { BudgetClockServiceImpl } from "./budget-clock-service.js";

/** Registers BudgetService and the clocks' BudgetClockService on a router (a server, or createRouterTransport in tests). */
export function routes(router: ConnectRouter, impl: BudgetServiceImpl, clock: BudgetClockServiceImpl): void {
  router.service(BudgetService, impl);
  router.service(BudgetClockService, clock);
}
