import { EnvReader, readServiceConfig, type ServiceConfig } from "@adbudget/kit";

export interface BudgetConfig extends ServiceConfig {
  /** JetStream stream holding `<prefix>.budget.>`, created if missing. */
  stream: string;
  brandServiceUrl: string;
  /** Empty (env "none"): spend is not checked against campaigns (no campaign service deployed). */
  campaignServiceUrl: string;
  brandCacheTtlMs: number;
  spendMaxBatch: number;
  spendConcurrency: number;
  /** JetStream stream of campaign events (CAMPAIGN_STREAM), read for the campaigns' caps. */
  campaignStream: string;
  /** Durable name of that consumer (BUDGET_CAMPAIGN_CONSUMER). */
  campaignConsumer: string;
}

/**
 * BUDGET_PORT (50052), BUDGET_DATABASE_URL (database `adbudget_budget` on PG_URL), NATS_URL,
 * EVENT_SUBJECT_PREFIX (adbudget), BUDGET_STREAM (ADBUDGET_BUDGET), BRAND_SERVICE_URL
 * (http://127.0.0.1:50051), CAMPAIGN_SERVICE_URL (http://127.0.0.1:50053; "none" = spend is not checked
 * against campaigns), BRAND_CACHE_TTL_MS (5000), SPEND_MAX_BATCH (1000),
 * SPEND_CONCURRENCY (2), CAMPAIGN_STREAM (ADBUDGET_CAMPAIGN), BUDGET_CAMPAIGN_CONSUMER
 * (budget-campaign-events), BUDGET_DB_POOL_MAX (10), plus the shared settings.
 */
export function readBudgetConfig(env: Record<string, string | undefined> = process.env): BudgetConfig {
  const reader = new EnvReader(env);
  const base = readServiceConfig({ name: "budget", prefix: "BUDGET", port: 50052, database: "adbudget_budget" }, reader);
  const config: BudgetConfig = {
    ...base,
    stream: reader.token("BUDGET_STREAM", "ADBUDGET_BUDGET"),
    brandServiceUrl: reader.url("BRAND_SERVICE_URL", "http://127.0.0.1:50051", ["http:", "https:"]),
    campaignServiceUrl: ((v) => (v === "none" ? "" : v))(reader.string("CAMPAIGN_SERVICE_URL", "http://127.0.0.1:50053")),
    brandCacheTtlMs: reader.int("BRAND_CACHE_TTL_MS", 5000, { min: 0, max: 3_600_000 }),
    spendMaxBatch: reader.int("SPEND_MAX_BATCH", 1000, { min: 1, max: 10_000 }),
    spendConcurrency: reader.int("SPEND_CONCURRENCY", 2, { min: 1, max: 64 }),
    campaignStream: reader.token("CAMPAIGN_STREAM", "ADBUDGET_CAMPAIGN"),
    campaignConsumer: reader.token("BUDGET_CAMPAIGN_CONSUMER", "budget-campaign-events"),
  };
  reader.done();
  return config;
}
