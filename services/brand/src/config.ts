import { EnvReader, readServiceConfig, type ServiceConfig } from "@adbudget/kit";
import { readServiceTopology, serviceDefaults, type ServiceTopology } from "@adbudget/topology";

export interface BrandConfig extends ServiceConfig {
  /** First token of every subject (EVENT_SUBJECT_PREFIX); tests use their own. */
  subjectPrefix: string;
  /** Stream of `<prefix>.brand.>` (BRAND_STREAM), created if missing. */
  stream: ServiceTopology<"brand">["stream"];
  /** The identity this service calls others with. */
  identity: ServiceTopology<"brand">["identity"];
  /** Its durable consumers (the topology's): none. */
  consumers: ServiceTopology<"brand">["consumers"];
  /** Asked whether a brand has spend before its zone may change; "" (env "none") = not asked. */
  budgetServiceUrl: string;
}

/**
 * BRAND_PORT, BRAND_HOST, BRAND_DATABASE_URL (default: the brand database on PG_URL),
 * NATS_URL, EVENT_SUBJECT_PREFIX, BRAND_STREAM, BUDGET_SERVICE_URL ("none" = zone changes are
 * not checked), plus the settings every service shares (see .env.example); the defaults are the
 * topology's (@adbudget/topology).
 */
export function readBrandConfig(env: Record<string, string | undefined> = process.env): BrandConfig {
  const reader = new EnvReader(env);
  const base = readServiceConfig(serviceDefaults("brand"), reader);
  const topology = readServiceTopology(reader, "brand");
  const config: BrandConfig = {
    ...base,
    subjectPrefix: topology.prefix,
    stream: topology.stream,
    identity: topology.identity,
    consumers: topology.consumers,
    budgetServiceUrl: topology.urls.budget,
  };
  reader.done();
  return config;
}
