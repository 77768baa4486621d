import { createClient, type Client } from "@connectrpc/connect";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { TokenCache } from "./tokens.js";
import { createAdbudgetTransport, type TransportOptions } from "./transport.js";

/** The three services' typed clients, sharing one token cache. */
export interface AdbudgetClients {
  brands: Client<typeof BrandService>;
  budget: Client<typeof BudgetService>;
  campaigns: Client<typeof CampaignService>;
}

/** Where the services are and how to call them: TransportOptions without the address. */
export interface ClientsOptions extends Omit<TransportOptions, "baseUrl"> {
  brandUrl: string;
  budgetUrl: string;
  campaignUrl: string;
}

/**
 * Typed clients of the services callers use (the clock services are the clocks worker's own).
 * One token cache serves all three, so a refresh happens once for the process.
 */
export function createAdbudgetClients(options: ClientsOptions): AdbudgetClients {
  const tokens = options.tokens instanceof TokenCache ? options.tokens : new TokenCache(options.tokens);
  const at = (baseUrl: string) => createAdbudgetTransport({ ...options, tokens, baseUrl });
  return {
    brands: createClient(BrandService, at(options.brandUrl)),
    budget: createClient(BudgetService, at(options.budgetUrl)),
    campaigns: createClient(CampaignService, at(options.campaignUrl)),
  };
}
