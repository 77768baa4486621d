import { EnvReader, readServiceConfig, type ServiceConfig } from "@adbudget/kit";

export type BrandConfig = ServiceConfig;

/**
 * BRAND_PORT (50051), BRAND_HOST, BRAND_DATABASE_URL (default: database `adbudget_brand` on
 * PG_URL), plus the settings every service shares (see .env.example).
 */
export function readBrandConfig(env: Record<string, string | undefined> = process.env): BrandConfig {
  return readServiceConfig({ name: "brand", prefix: "BRAND", port: 50051, database: "adbudget_brand" }, new EnvReader(env));
}
