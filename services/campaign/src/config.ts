import { EnvReader, readServiceConfig, type ServiceConfig } from "@adbudget/kit";

export interface CampaignConfig extends ServiceConfig {
  /** The budget service's stream this service consumes. */
  budgetStream: string;
  /** This service's stream: `<prefix>.campaign.>`. */
  campaignStream: string;
  /** Durable consumer name on the budget stream, shared by replicas. */
  budgetConsumer: string;
  /** The brand service's stream (brand archive and zone changes), and our consumer on it. */
  brandStream: string;
  brandConsumer: string;
  brandServiceUrl: string;
  watchBuffer: number;
}

/**
 * CAMPAIGN_PORT (50053), CAMPAIGN_DATABASE_URL (database `adbudget_campaign`), NATS_URL,
 * EVENT_SUBJECT_PREFIX (adbudget), BUDGET_STREAM (ADBUDGET_BUDGET), CAMPAIGN_STREAM
 * (ADBUDGET_CAMPAIGN), CAMPAIGN_BUDGET_CONSUMER (campaign-budget-events), BRAND_STREAM
 * (ADBUDGET_BRAND), CAMPAIGN_BRAND_CONSUMER (campaign-brand-events), BRAND_SERVICE_URL,
 * WATCH_BUFFER (1000 changes per watcher), CAMPAIGN_DB_POOL_MAX (10).
 */
export function readCampaignConfig(env: Record<string, string | undefined> = process.env): CampaignConfig {
  const reader = new EnvReader(env);
  const base = readServiceConfig({ name: "campaign", prefix: "CAMPAIGN", port: 50053, database: "adbudget_campaign" }, reader);
  const config: CampaignConfig = {
    ...base,
    budgetStream: reader.token("BUDGET_STREAM", "ADBUDGET_BUDGET"),
    campaignStream: reader.token("CAMPAIGN_STREAM", "ADBUDGET_CAMPAIGN"),
    budgetConsumer: reader.token("CAMPAIGN_BUDGET_CONSUMER", "campaign-budget-events"),
    brandStream: reader.token("BRAND_STREAM", "ADBUDGET_BRAND"),
    brandConsumer: reader.token("CAMPAIGN_BRAND_CONSUMER", "campaign-brand-events"),
    brandServiceUrl: reader.url("BRAND_SERVICE_URL", "http://127.0.0.1:50051", ["http:", "https:"]),
    watchBuffer: reader.int("WATCH_BUFFER", 1000, { min: 1, max: 1_000_000 }),
  };
  reader.done();
  return config;
}
