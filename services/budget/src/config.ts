import { EnvReader } from "@adbudget/kit";
import { readServiceSettings, type ServiceSettings } from "@adbudget/topology";

/**
 * The budget service's settings: the shared ones and its topology (ServiceSettings: its stream
 * `<prefix>.budget.>`, the campaign caps' consumer, the brand service's URL and the campaign
 * service's, "none" = spend is not checked against campaigns), and its own below.
 */
export interface BudgetConfig extends ServiceSettings<"budget"> {
  brandCacheTtlMs: number;
  spendMaxBatch: number;
  spendConcurrency: number;
  /** Wall-clock ms between pacing ticks (pacing-loop.ts). */
  pacingIntervalMs: number;
  /** The pacing controller's horizon, ms of the services' time (pacing-controller.ts). */
  pacingHorizonMs: number;
}

/**
 * BUDGET_PORT, BUDGET_DATABASE_URL (the budget database on PG_URL), NATS_URL,
 * EVENT_SUBJECT_PREFIX, BUDGET_STREAM, BRAND_SERVICE_URL, CAMPAIGN_SERVICE_URL ("none" = spend
 * is not checked against campaigns), CAMPAIGN_STREAM and BUDGET_CAMPAIGN_CONSUMER (the campaign
 * caps' consumer), BRAND_CACHE_TTL_MS (5000), SPEND_MAX_BATCH (1000), SPEND_CONCURRENCY (2),
 * BUDGET_DB_POOL_MAX (10), PACING_INTERVAL_MS (10000: how often throttles are recomputed, a
 * tenth of a minute of spend at most between a pace change and its answer), PACING_HORIZON_MS
 * (1800000: the controller is back on the target curve within about half an hour), plus the shared settings; the topology's defaults (@adbudget/topology).
 */
export function readBudgetConfig(env: Record<string, string | undefined> = process.env): BudgetConfig {
  const reader = new EnvReader(env);
  const config: BudgetConfig = {
    ...readServiceSettings(reader, "budget"),
    brandCacheTtlMs: reader.int("BRAND_CACHE_TTL_MS", 5000, { min: 0, max: 3_600_000 }),
    spendMaxBatch: reader.int("SPEND_MAX_BATCH", 1000, { min: 1, max: 10_000 }),
    spendConcurrency: reader.int("SPEND_CONCURRENCY", 2, { min: 1, max: 64 }),
    pacingIntervalMs: reader.int("PACING_INTERVAL_MS", 10_000, { min: 50, max: 600_000 }),
    pacingHorizonMs: reader.int("PACING_HORIZON_MS", 1_800_000, { min: 60_000, max: 6 * 3_600_000 }),
  };
  reader.done();
  return config;
}
