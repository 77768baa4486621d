import type { ConnectRouter } from "@connectrpc/connect";
import { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import type { CampaignServiceImpl } from "./campaign-service.js";
import type { CampaignClockServiceImpl } from "./campaign-clock-service.js";

/** Registers CampaignService and the clocks' CampaignClockService on a router. */
export function routes(router: ConnectRouter, impl: CampaignServiceImpl, clock: CampaignClockServiceImpl): void {
  router.service(CampaignService, impl);
  router.service(CampaignClockService, clock);
}
