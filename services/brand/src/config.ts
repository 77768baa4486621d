import { EnvReader, readServiceConfig, type ServiceConfig } from "@adbudget/kit";

export interface BrandConfig extends ServiceConfig {
  /** Stream of `<prefix>.brand.>`, created if missing. */
  stream: string;
  /** Asked whether a brand has spend before its zone may change; "" (env "none") = not asked. */
  budgetServiceUrl: string;
}

/**
 * BRAND_PORT (50051), BRAND_HOST, BRAND_DATABASE_URL (default: database `adbudget_brand` on
 * PG_URL), NATS_URL, EVENT_SUBJECT_PREFIX (adbudget), BRAND_STREAM (ADBUDGET_BRAND),
 * BUDGET_SERVICE_URL (http://127.0.0.1:50052; "none" = zone changes are not checked), plus the
 * settings every service shares (see .env.example).
 */
export function readBrandConfig(env: Record<string, string | undefined> = process.env): BrandConfig {
  const reader = new EnvReader(env);
  const base = readServiceConfig({ name: "brand", prefix: "BRAND", port: 50051, database: "adbudget_brand" }, reader);
  const config: BrandConfig = {
    ...base,
    stream: reader.token("BRAND_STREAM", "ADBUDGET_BRAND"),
    budgetServiceUrl: ((v) => (v === "none" ? "" : v))(reader.string("BUDGET_SERVICE_URL", "http://127.0.0.1:50052")),
  };
  reader.done();
  return config;
}
