import { EnvReader, readServiceConfig, type ServiceConfig } from "@adbudget/kit";
import { readServiceTopology, serviceDefaults, type ServiceTopology } from "@adbudget/topology";

export interface CampaignConfig extends ServiceConfig {
  /** First token of every subject (EVENT_SUBJECT_PREFIX); tests use their own. */
  subjectPrefix: string;
  /** This service's stream (CAMPAIGN_STREAM): `<prefix>.campaign.>`. */
  stream: ServiceTopology<"campaign">["stream"];
  /** The identity this service calls others with. */
  identity: ServiceTopology<"campaign">["identity"];
  /** Its durable consumers (the topology's), shared by replicas: budget events and brand events. */
  consumers: ServiceTopology<"campaign">["consumers"];
  brandServiceUrl: string;
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
  const base = readServiceConfig(serviceDefaults("campaign"), reader);
  const topology = readServiceTopology(reader, "campaign");
  const config: CampaignConfig = {
    ...base,
    subjectPrefix: topology.prefix,
    stream: topology.stream,
    identity: topology.identity,
    consumers: topology.consumers,
    brandServiceUrl: topology.urls.brand,
    watchBuffer: reader.int("WATCH_BUFFER", 1000, { min: 1, max: 1_000_000 }),
  };
  reader.done();
  return config;
}
