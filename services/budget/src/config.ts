import { EnvReader, readServiceConfig, type ServiceConfig } from "@adbudget/kit";
import { readServiceTopology, serviceDefaults, type ServiceTopology } from "@adbudget/topology";

export interface BudgetConfig extends ServiceConfig {
  /** First token of every subject (EVENT_SUBJECT_PREFIX); tests use their own. */
  subjectPrefix: string;
  /** JetStream stream holding `<prefix>.budget.>` (BUDGET_STREAM), created if missing. */
  stream: ServiceTopology<"budget">["stream"];
  /** The identity this service calls others with. */
  identity: ServiceTopology<"budget">["identity"];
  /** Its durable consumers (the topology's): the campaigns' events, for their caps. */
  consumers: ServiceTopology<"budget">["consumers"];
  brandServiceUrl: string;
  /** Empty (env "none"): spend is not checked against campaigns (no campaign service deployed). */
  campaignServiceUrl: string;
  brandCacheTtlMs: number;
  spendMaxBatch: number;
  spendConcurrency: number;
}

/**
 * BUDGET_PORT, BUDGET_DATABASE_URL (the budget database on PG_URL), NATS_URL,
 * EVENT_SUBJECT_PREFIX, BUDGET_STREAM, BRAND_SERVICE_URL, CAMPAIGN_SERVICE_URL ("none" = spend
 * is not checked against campaigns), CAMPAIGN_STREAM and BUDGET_CAMPAIGN_CONSUMER (the campaign
 * caps' consumer), BRAND_CACHE_TTL_MS (5000), SPEND_MAX_BATCH (1000), SPEND_CONCURRENCY (2),
 * BUDGET_DB_POOL_MAX (10), plus the shared settings; the topology's defaults (@adbudget/topology).
 */
export function readBudgetConfig(env: Record<string, string | undefined> = process.env): BudgetConfig {
  const reader = new EnvReader(env);
  const base = readServiceConfig(serviceDefaults("budget"), reader);
  const topology = readServiceTopology(reader, "budget");
  const config: BudgetConfig = {
    ...base,
    subjectPrefix: topology.prefix,
    stream: topology.stream,
    identity: topology.identity,
    consumers: topology.consumers,
    brandServiceUrl: topology.urls.brand,
    campaignServiceUrl: topology.urls.campaign,
    brandCacheTtlMs: reader.int("BRAND_CACHE_TTL_MS", 5000, { min: 0, max: 3_600_000 }),
    spendMaxBatch: reader.int("SPEND_MAX_BATCH", 1000, { min: 1, max: 10_000 }),
    spendConcurrency: reader.int("SPEND_CONCURRENCY", 2, { min: 1, max: 64 }),
  };
  reader.done();
  return config;
}
