/**
 * Configuration from environment variables, read once at start.
 *
 * Every setting has a default that works on a developer machine, so `npm start` needs no .env.
 * A bad value must stop the process before it serves anything, with a message that names the
 * variable and what was wrong: that is cheaper than any runtime surprise. `readConfig` collects
 * every problem at once instead of failing on the first one.
 */
import { isIPv4 } from "node:net";
import { readAuthConfig, type AuthConfig } from "./auth-config.js";
import { readNatsAuth, type NatsAuthOptions } from "./nats-auth.js";
import { readNatsTls } from "./nats-tls.js";
import { readClockOffset } from "./now.js";
import { parsePgUrl, pgUrlWithDatabase } from "./pg-url.js";
import {
  addProblemOnce,
  checkReadable,
  readClientTlsSettings,
  TLS_CLIENT_AUTH_MODES,
  type TlsClientAuth,
} from "./tls.js";

export class ConfigError extends Error {
  override name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  - ${problems.join("\n  - ")}`);
  }
}

type Env = Record<string, string | undefined>;

/** Reads typed settings from an env map, remembering every problem it meets. */
export class EnvReader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env = process.env) {}

  string(name: string, fallback: string): string {
    const raw = this.env[name];
    return raw === undefined || raw === "" ? fallback : raw;
  }

  int(name: string, fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || value < min || value > max) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  }

  port(name: string, fallback: number): number {
    return this.int(name, fallback, { min: 0, max: 65535 });
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    const v = raw.trim().toLowerCase();
    if (["1", "true", "yes", "on"].includes(v)) return true;
    if (["0", "false", "no", "off"].includes(v)) return false;
    this.problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`);
    return fallback;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.string(name, fallback);
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(", ")}`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string, fallback: string, protocols: readonly string[]): string {
    const raw = this.string(name, fallback);
    try {
      const url = new URL(raw);
      if (!protocols.includes(url.protocol)) {
        this.problems.push(`${name}: expected a ${protocols.join(" or ")} URL, got ${url.protocol}`);
      }
    } catch {
      this.problems.push(`${name}=${JSON.stringify(raw)}: not a valid URL`);
    }
    return raw;
  }

  /**
   * A PostgreSQL URL as libpq reads it, several servers allowed (`host1:port,host2:port`, a
   * failover pair) with `target_session_attrs` any, read-write or primary.
   */
  pgUrl(name: string, fallback: string): string {
    const raw = this.string(name, fallback);
    try {
      parsePgUrl(raw);
    } catch (err) {
      this.problems.push(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    return raw;
  }

  /**
   * Several URLs, comma-separated (the servers of a cluster a client may connect to, any of
   * them): each checked as `url` does. Returns the list as given, spaces around commas removed.
   */
  urlList(name: string, fallback: string, protocols: readonly string[]): string {
    const raw = this.string(name, fallback);
    const urls = raw.split(",").map((u) => u.trim());
    for (const [i, u] of urls.entries()) {
      const which = urls.length > 1 ? `${name} (URL ${i + 1} of ${urls.length})` : name;
      try {
        const url = new URL(u);
        if (!protocols.includes(url.protocol))
          this.problems.push(`${which}: expected a ${protocols.join(" or ")} URL, got ${url.protocol}`);
      } catch {
        this.problems.push(`${which}=${JSON.stringify(u)}: not a valid URL`);
      }
    }
    return urls.join(",");
  }

  /** A NATS subject token or stream/consumer name: letters, digits, - and _. */
  token(name: string, fallback: string): string {
    const value = this.string(name, fallback);
    if (!/^[A-Za-z0-9_-]+$/.test(value))
      this.problems.push(`${name}=${JSON.stringify(value)}: letters, digits, - and _ only`);
    return value;
  }

  /** Throws a ConfigError listing every problem met so far. */
  done(): void {
    if (this.problems.length > 0) throw new ConfigError(this.problems);
  }
}

/** Settings every service shares. Each service adds its own port and database defaults. */
export interface ServiceConfig {
  /** Service name, used in logs and health. */
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  /** Apply pending migrations before serving. */
  readonly migrateOnStart: boolean;
  readonly logLevel: string;
  /** How long in-flight calls may take to finish after SIGTERM. */
  readonly shutdownGraceMs: number;
  /** TLS: both set = serve HTTP/2 over TLS instead of plaintext h2c. */
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** TLS_CLIENT_AUTH: client certificates asked for (request) or required (require), verified against TLS_CA_FILE. */
  readonly tlsClientAuth: TlsClientAuth;
  /** TLS_CA_FILE: the CAs that sign client certificates and the servers this service calls. */
  readonly tlsCaFile: string;
  /** TLS_CLIENT_CERT_FILE / TLS_CLIENT_KEY_FILE (default TLS_CERT_FILE / TLS_KEY_FILE): for calls over https. */
  readonly tlsClientCertFile: string;
  readonly tlsClientKeyFile: string;
  /** Prometheus /metrics port; 0 = any free port; undefined = metrics off (METRICS=off). */
  readonly metricsPort: number | undefined;
  /** CLOCK_OFFSET_MS: shift of "now" for tests and demos (see now.ts); 0 in production. */
  readonly clockOffsetMs: number;
  /** NATS with JetStream: events between services. Several servers of a cluster: comma-separated. */
  readonly natsUrl: string;
  /** NATS_USER + NATS_PASSWORD, NATS_CREDS_FILE or NATS_NKEY_SEED_FILE: the service's own NATS user (none: no auth). */
  readonly natsAuth: NatsAuthOptions;
  /** Connections of the service's one database pool (<PREFIX>_DB_POOL_MAX). */
  readonly poolMax: number;
  /** Tokens: the keys callers' tokens are verified with, and the key of this service's identity. */
  readonly auth: AuthConfig;
  /** QUOTAS (on): the callers' rate limits of the access model; off for benchmarks and test setups. */
  readonly quotas: boolean;
}

/**
 * What a service's settings default to: the system's declaration of the service (its topology),
 * handed in, so no port, database or address is written here.
 */
export interface ServiceDefaults {
  name: string;
  /** Environment prefix, for example "ORDERS" reads ORDERS_PORT, ORDERS_DATABASE_URL. */
  prefix: string;
  port: number;
  /** Prometheus /metrics port (<PREFIX>_METRICS_PORT). */
  metricsPort: number;
  database: string;
  /** PG_URL's default: the PostgreSQL server, without a database. */
  pgUrl: string;
  /** NATS_URL's default. */
  natsUrl: string;
}

/**
 * Reads the shared settings of a service. `PG_URL` is the server (without database) all
 * services default to; `<PREFIX>_DATABASE_URL` overrides the whole URL of one service. The
 * caller reads its own settings with the same reader, then calls `reader.done()`.
 */
export function readServiceConfig(defaults: ServiceDefaults, reader = new EnvReader()): ServiceConfig {
  const pgUrl = reader.pgUrl("PG_URL", defaults.pgUrl);
  const natsUrl = reader.urlList("NATS_URL", defaults.natsUrl, ["nats:", "tls:"]);
  const config: ServiceConfig = {
    name: defaults.name,
    host: reader.string(`${defaults.prefix}_HOST`, reader.string("HOST", "0.0.0.0")),
    port: reader.port(`${defaults.prefix}_PORT`, defaults.port),
    databaseUrl: reader.pgUrl(`${defaults.prefix}_DATABASE_URL`, pgUrlWithDatabase(pgUrl, defaults.database)),
    migrateOnStart: reader.bool("MIGRATE_ON_START", true),
    logLevel: reader.oneOf("LOG_LEVEL", "info", ["trace", "debug", "info", "warn", "error", "fatal", "silent"]),
    shutdownGraceMs: reader.int("SHUTDOWN_GRACE_MS", 10_000, { min: 0, max: 600_000 }),
    tlsCertFile: reader.string("TLS_CERT_FILE", ""),
    tlsKeyFile: reader.string("TLS_KEY_FILE", ""),
    tlsClientAuth: reader.oneOf("TLS_CLIENT_AUTH", "none", TLS_CLIENT_AUTH_MODES),
    ...readClientTlsSettings(reader),
    metricsPort: reader.bool("METRICS", true)
      ? reader.port(`${defaults.prefix}_METRICS_PORT`, defaults.metricsPort)
      : undefined,
    clockOffsetMs: readClockOffset(reader),
    natsUrl,
    natsAuth: { ...readNatsAuth(reader, defaults.name), ...readNatsTls(reader, natsUrl) },
    // 10: a group commit keeps at most two spend transactions busy, the relay one LISTEN
    // connection; the rest serve reads. PostgreSQL's default max_connections (100) fits three
    // services with two replicas each.
    poolMax: reader.int(`${defaults.prefix}_DB_POOL_MAX`, 10, { min: 2, max: 500 }),
    auth: readAuthConfig(reader),
    quotas: reader.bool("QUOTAS", true),
  };
  if ((config.tlsCertFile === "") !== (config.tlsKeyFile === "")) {
    addProblemOnce(reader, "TLS_CERT_FILE and TLS_KEY_FILE must be set together");
  }
  checkReadable(reader, "TLS_CERT_FILE", config.tlsCertFile);
  checkReadable(reader, "TLS_KEY_FILE", config.tlsKeyFile);
  if (config.tlsClientAuth !== "none") {
    if (config.tlsCaFile === "")
      reader.problems.push(
        `TLS_CLIENT_AUTH=${config.tlsClientAuth} needs TLS_CA_FILE (the CAs that sign client certificates)`,
      );
    if (config.tlsCertFile === "")
      reader.problems.push(
        `TLS_CLIENT_AUTH=${config.tlsClientAuth} needs TLS_CERT_FILE and TLS_KEY_FILE (client certificates are asked for over TLS only)`,
      );
  }
  checkExposure(config, reader.bool("ALLOW_INSECURE", false), reader);
  // The service reads its own settings with the same reader and calls done(): every problem of
  // every setting is listed at once.
  return config;
}

/**
 * An address only this machine reaches: what may go without TLS and credentials. Spelled strictly
 * (an IPv4 address in 127/8, "::1", "localhost"): "127.999.999.999" is no address, and the
 * resolver could make it one beyond this machine.
 */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || (isIPv4(host) && host.startsWith("127."));
}

/**
 * Secure by default: a service listening beyond loopback (the default HOST 0.0.0.0 included)
 * refuses to start in plaintext or without its NATS user unless ALLOW_INSECURE=true says the
 * network is trusted (the compose file's development network), and never with authentication
 * off. A forgotten Secret then fails the rollout with the setting named, instead of serving
 * tokens in clear.
 */
function checkExposure(config: ServiceConfig, allowInsecure: boolean, reader: EnvReader): void {
  if (isLoopback(config.host)) return;
  const where = `listening on ${config.host} (beyond loopback)`;
  if (config.auth.disabled)
    reader.problems.push(`AUTH_DISABLED=true is allowed on a loopback HOST only (127.0.0.1), not ${where}`);
  if (allowInsecure) return;
  if (!config.quotas)
    reader.problems.push(
      `QUOTAS=off is allowed on a loopback HOST only, not ${where} (or ALLOW_INSECURE=true on a network you trust)`,
    );
  if (config.tlsCertFile === "")
    reader.problems.push(
      `${where} needs TLS: set TLS_CERT_FILE and TLS_KEY_FILE (or ALLOW_INSECURE=true on a network you trust)`,
    );
  else if (config.tlsClientAuth === "none")
    reader.problems.push(
      `${where} needs TLS_CLIENT_AUTH request or require: only then is a workload's token bound to its certificate (or ALLOW_INSECURE=true on a network you trust)`,
    );
  if (config.natsAuth.user === undefined && config.natsAuth.authenticator === undefined)
    reader.problems.push(
      `${where} needs its NATS user: set NATS_USER and NATS_PASSWORD, NATS_CREDS_FILE or NATS_NKEY_SEED_FILE (or ALLOW_INSECURE=true on a network you trust)`,
    );
}
