import { describe, expect, it } from "vitest";
import { readAuthConfig } from "./auth-config.js";
import { ConfigError, EnvReader, readServiceConfig } from "./config.js";

const defaults = {
  name: "orders",
  prefix: "ORDERS",
  port: 7001,
  metricsPort: 7401,
  database: "orders_db",
  pgUrl: "postgres://postgres@127.0.0.1:5432",
  natsUrl: "nats://127.0.0.1:4222",
};

describe("readServiceConfig", () => {
  it("works with no environment at all: the defaults it is given", () => {
    const c = readServiceConfig(defaults, new EnvReader({}));
    expect(c).toMatchObject({
      port: 7001,
      metricsPort: 7401,
      host: "0.0.0.0",
      migrateOnStart: true,
      logLevel: "info",
      natsUrl: "nats://127.0.0.1:4222",
    });
    expect(c.databaseUrl).toBe("postgres://postgres@127.0.0.1:5432/orders_db");
  });

  it("takes a failover pair's servers in PG_URL and keeps them in every service's database URL", () => {
    const pair = "postgres://postgres@db1:5432,db2:5432?target_session_attrs=read-write";
    expect(readServiceConfig(defaults, new EnvReader({ PG_URL: pair })).databaseUrl).toBe(
      "postgres://postgres@db1:5432,db2:5432/orders_db?target_session_attrs=read-write",
    );
    const reader = new EnvReader({ PG_URL: "postgres://db1,db2:0" });
    readServiceConfig(defaults, reader);
    expect(reader.problems).toContain("PG_URL: server 2 of 2: port out of range");
  });

  it("takes a NATS cluster's servers comma-separated, and names the one that is wrong", () => {
    const cluster = "nats://n1:4222, nats://n2:4222,tls://n3:4222";
    expect(readServiceConfig(defaults, new EnvReader({ NATS_URL: cluster })).natsUrl).toBe(
      "nats://n1:4222,nats://n2:4222,tls://n3:4222",
    );
    const reader = new EnvReader({ NATS_URL: "nats://n1:4222,http://n2:8222,,nats://n3" });
    readServiceConfig(defaults, reader);
    expect(reader.problems.filter((p) => p.startsWith("NATS_URL"))).toEqual([
      "NATS_URL (URL 2 of 4): expected a nats: or tls: URL, got http:",
      'NATS_URL (URL 3 of 4)="": not a valid URL',
    ]);
  });

  it("derives the database from PG_URL and lets the service override it", () => {
    expect(readServiceConfig(defaults, new EnvReader({ PG_URL: "postgres://u@db:6543" })).databaseUrl).toBe(
      "postgres://u@db:6543/orders_db",
    );
    expect(readServiceConfig(defaults, new EnvReader({ ORDERS_DATABASE_URL: "postgresql://x@y/z" })).databaseUrl).toBe(
      "postgresql://x@y/z",
    );
  });

  it("reads the service's own metrics port, or none with METRICS=off", () => {
    expect(readServiceConfig(defaults, new EnvReader({ ORDERS_METRICS_PORT: "0" })).metricsPort).toBe(0);
    expect(readServiceConfig(defaults, new EnvReader({ METRICS: "off" })).metricsPort).toBeUndefined();
  });

  it("reports every bad value at once, naming the variables", () => {
    const env = {
      ORDERS_PORT: "70000",
      MIGRATE_ON_START: "maybe",
      LOG_LEVEL: "loud",
      PG_URL: "mysql://x",
      TLS_CERT_FILE: "a.pem",
      NATS_URL: "http://x",
    };
    let error: unknown;
    try {
      const reader = new EnvReader(env);
      readServiceConfig(defaults, reader);
      reader.done();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = error instanceof ConfigError ? error.problems.join("\n") : "";
    for (const name of ["ORDERS_PORT", "MIGRATE_ON_START", "LOG_LEVEL", "PG_URL", "TLS_KEY_FILE", "NATS_URL"]) {
      expect(problems).toContain(name);
    }
  });
});

describe("readAuthConfig", () => {
  const problemsOf = (env: Record<string, string>) => {
    const reader = new EnvReader({ AUTH_PRIVATE_KEY_FILE: "/k.json", ...env });
    readAuthConfig(reader);
    return reader.problems;
  };

  it("fetches a key set over https only: over http anyone on the path could hand in a key", () => {
    expect(problemsOf({ AUTH_JWKS_URL: "https://idp.example/jwks.json" })).toEqual([]);
    expect(problemsOf({ AUTH_JWKS_URL: "http://idp.example/jwks.json" })).toEqual([
      'AUTH_JWKS_URL="http://idp.example/jwks.json": expected an https:// URL',
    ]);
    expect(problemsOf({ AUTH_JWKS_URL: "https:///jwks.json" })).toHaveLength(1);
  });
});

describe("secure by default: a service listening beyond loopback", () => {
  /** The problems about where the service listens (the auth keys' are other tests' business). */
  const exposure = (env: Record<string, string>) => {
    const reader = new EnvReader(env);
    readServiceConfig(defaults, reader);
    return reader.problems.filter((p) => p.includes("loopback"));
  };

  it("refuses plaintext and a NATS without its user, naming both, unless ALLOW_INSECURE=true", () => {
    expect(exposure({})).toEqual([
      "listening on 0.0.0.0 (beyond loopback) needs TLS: set TLS_CERT_FILE and TLS_KEY_FILE (or ALLOW_INSECURE=true on a network you trust)",
      "listening on 0.0.0.0 (beyond loopback) needs its NATS user: set NATS_USER and NATS_PASSWORD, NATS_CREDS_FILE or NATS_NKEY_SEED_FILE (or ALLOW_INSECURE=true on a network you trust)",
    ]);
    expect(exposure({ ORDERS_HOST: "10.0.0.7", NATS_USER: "orders", NATS_PASSWORD: "p" })).toHaveLength(1);
    expect(exposure({ ALLOW_INSECURE: "true" })).toEqual([]);
  });

  it("with TLS, asks for client certificates: a workload's token is bound to its certificate only then", () => {
    const tls = { TLS_CERT_FILE: "/dev/null", TLS_KEY_FILE: "/dev/null", NATS_USER: "orders", NATS_PASSWORD: "p" };
    expect(exposure(tls)).toEqual([
      "listening on 0.0.0.0 (beyond loopback) needs TLS_CLIENT_AUTH request or require: only then is a workload's token bound to its certificate (or ALLOW_INSECURE=true on a network you trust)",
    ]);
    expect(exposure({ ...tls, TLS_CLIENT_AUTH: "request", TLS_CA_FILE: "/dev/null" })).toEqual([]);
  });

  it("never with authentication off, ALLOW_INSECURE or not", () => {
    expect(exposure({ AUTH_DISABLED: "true", ALLOW_INSECURE: "true" })).toEqual([
      "AUTH_DISABLED=true is allowed on a loopback HOST only (127.0.0.1), not listening on 0.0.0.0 (beyond loopback)",
    ]);
  });

  it("keeps the callers' quotas on unless ALLOW_INSECURE=true", () => {
    const secure = { TLS_CERT_FILE: "/dev/null", TLS_KEY_FILE: "/dev/null", TLS_CLIENT_AUTH: "request" };
    const rest = { ...secure, TLS_CA_FILE: "/dev/null", NATS_USER: "orders", NATS_PASSWORD: "p" };
    expect(exposure({ ...rest, QUOTAS: "off" })).toEqual([
      "QUOTAS=off is allowed on a loopback HOST only, not listening on 0.0.0.0 (beyond loopback) (or ALLOW_INSECURE=true on a network you trust)",
    ]);
    expect(exposure({ ...rest, QUOTAS: "off", ALLOW_INSECURE: "true" })).toEqual([]);
    expect(exposure({ HOST: "127.0.0.1", QUOTAS: "off" })).toEqual([]);
  });

  it.each(["127.0.0.1", "127.1.2.3", "::1", "localhost"])("lets %s go without TLS, NATS users or auth", (host) => {
    expect(exposure({ HOST: host, AUTH_DISABLED: "true" })).toEqual([]);
  });

  it.each(["0.0.0.0", "::", "10.0.0.7", "127.0.0.1.example.com", "localhost.evil", "127.999.999.999", "127.1"])(
    "counts %s as beyond loopback",
    (host) => {
      expect(exposure({ HOST: host })).toHaveLength(2);
    },
  );
});
