import { describe, expect, it } from "vitest";
import { ConfigError, EnvReader, readServiceConfig } from "./config.js";

const defaults = { name: "brand", prefix: "BRAND", port: 50051, database: "adbudget_brand" };

describe("readServiceConfig", () => {
  it("works with no environment at all", () => {
    const c = readServiceConfig(defaults, new EnvReader({}));
    expect(c).toMatchObject({ port: 50051, host: "0.0.0.0", migrateOnStart: true, logLevel: "info" });
    expect(c.databaseUrl).toBe("postgres://postgres@127.0.0.1:5432/adbudget_brand");
  });

  it("derives the database from PG_URL and lets the service override it", () => {
    expect(readServiceConfig(defaults, new EnvReader({ PG_URL: "postgres://u@db:6543" })).databaseUrl).toBe(
      "postgres://u@db:6543/adbudget_brand",
    );
    expect(
      readServiceConfig(defaults, new EnvReader({ BRAND_DATABASE_URL: "postgresql://x@y/z" })).databaseUrl,
    ).toBe("postgresql://x@y/z");
  });

  it("reports every bad value at once, naming the variables", () => {
    const env = { BRAND_PORT: "70000", MIGRATE_ON_START: "maybe", LOG_LEVEL: "loud", PG_URL: "mysql://x", TLS_CERT_FILE: "a.pem" };
    let error: unknown;
    try {
      const reader = new EnvReader({ ...env, EVENT_SUBJECT_PREFIX: "a.b" });
      readServiceConfig(defaults, reader);
      reader.done();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    for (const name of ["BRAND_PORT", "MIGRATE_ON_START", "LOG_LEVEL", "PG_URL", "TLS_KEY_FILE", "EVENT_SUBJECT_PREFIX"]) {
      expect(problems).toContain(name);
    }
  });
});
