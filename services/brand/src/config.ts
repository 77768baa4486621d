import { EnvReader, readServiceConfig, type ServiceConfig } from "@adbudget/kit";

export interface BrandConfig extends ServiceConfig {
  natsUrl: string;
  subjectPrefix: string;
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
    natsUrl: reader.url("NATS_URL", "nats://127.0.0.1:4222", ["nats:", "tls:"]),
    subjectPrefix: reader.string("EVENT_SUBJECT_PREFIX", "adbudget"),
    stream: reader.string("BRAND_STREAM", "ADBUDGET_BRAND"),
    budgetServiceUrl: ((v) => (v === "none" ? "" : v))(reader.string("BUDGET_SERVICE_URL", "http://127.0.0.1:50052")),
  };
  if (!/^[A-Za-z0-9_-]+$/.test(config.subjectPrefix)) reader.problems.push("EVENT_SUBJECT_PREFIX: one subject token");
  if (!/^[A-Za-z0-9_-]+$/.test(config.stream)) reader.problems.push("BRAND_STREAM: letters, digits, - and _ only");
  reader.done();
  return config;
}
