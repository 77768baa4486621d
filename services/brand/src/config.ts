import { EnvReader } from "@adbudget/kit";
import { readServiceSettings, type ServiceSettings } from "@adbudget/topology";

/**
 * The brand service's settings: the shared ones and its topology (ServiceSettings: its stream
 * `<prefix>.brand.>`, no consumers, the budget service's URL, asked whether a brand has spend
 * before its zone may change; "none" = not asked). It has none of its own.
 */
export type BrandConfig = ServiceSettings<"brand">;

/**
 * BRAND_PORT, BRAND_HOST, BRAND_DATABASE_URL (default: the brand database on PG_URL),
 * NATS_URL, EVENT_SUBJECT_PREFIX, BRAND_STREAM, BUDGET_SERVICE_URL ("none" = zone changes are
 * not checked), plus the settings every service shares (see .env.example); the defaults are the
 * topology's (@adbudget/topology).
 */
export function readBrandConfig(env: Record<string, string | undefined> = process.env): BrandConfig {
  const reader = new EnvReader(env);
  const config = readServiceSettings(reader, "brand");
  reader.done();
  return config;
}
