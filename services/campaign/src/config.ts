import { EnvReader } from "@adbudget/kit";
import { readServiceSettings, type ServiceSettings } from "@adbudget/topology";

/**
 * The campaign service's settings: the shared ones and its topology (ServiceSettings: its stream
 * `<prefix>.campaign.>`, its consumers of budget and brand events, the brand service's URL), and
 * its own below.
 */
export interface CampaignConfig extends ServiceSettings<"campaign"> {
  /** Changes buffered per WatchCampaigns stream before a slow watcher is dropped. */
  watchBuffer: number;
}

/**
 * CAMPAIGN_PORT, CAMPAIGN_DATABASE_URL (the campaign database on PG_URL), NATS_URL,
 * EVENT_SUBJECT_PREFIX, CAMPAIGN_STREAM, BUDGET_STREAM and CAMPAIGN_BUDGET_CONSUMER, BRAND_STREAM
 * and CAMPAIGN_BRAND_CONSUMER, BRAND_SERVICE_URL (the topology's defaults, @adbudget/topology),
 * WATCH_BUFFER (1000 changes per watcher), CAMPAIGN_DB_POOL_MAX (10).
 */
export function readCampaignConfig(env: Record<string, string | undefined> = process.env): CampaignConfig {
  const reader = new EnvReader(env);
  const config: CampaignConfig = {
    ...readServiceSettings(reader, "campaign"),
    watchBuffer: reader.int("WATCH_BUFFER", 1000, { min: 1, max: 1_000_000 }),
  };
  reader.done();
  return config;
}
