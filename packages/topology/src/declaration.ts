/**
 * The system's wiring, declared once: which processes there are, where they listen, which
 * database each owns, which stream each publishes its events into and under which subjects,
 * which durable consumers each runs on whose stream, which services each calls, and the default
 * addresses of the infrastructure. Every service config, the clocks worker's config and the NATS
 * permissions (scripts/nats-auth-conf.ts, deploy/local/nats-auth.conf) are derived from these
 * tables (read-topology.ts, nats-users.ts): a stream, subject, durable, port or URL default written
 * anywhere else is a second truth that can drift.
 *
 * Every name here is the default of an environment variable (named beside it), so a deployment
 * or a test can rename streams and consumers without code; the variable names and defaults are
 * part of the configuration contract (.env.example, README, deploy/).
 */

import type { Role } from "./access.js";

/** A gRPC service process. */
export interface ServiceDeclaration {
  /** Prefix of its own settings: `<PREFIX>_PORT`, `<PREFIX>_DATABASE_URL`, `<PREFIX>_SERVICE_URL` (how others reach it), ... */
  readonly envPrefix: string;
  readonly port: number;
  /** Prometheus /metrics (`<PREFIX>_METRICS_PORT`). */
  readonly metricsPort: number;
  /** Its own database on PG_URL. */
  readonly database: string;
  /** The role of the identity it calls other services with (docs/design.md, Access). */
  readonly role: Role;
}

export const SERVICES = {
  brand: { envPrefix: "BRAND", port: 50051, metricsPort: 9451, database: "adbudget_brand", role: "brand-service" },
  budget: { envPrefix: "BUDGET", port: 50052, metricsPort: 9452, database: "adbudget_budget", role: "budget-service" },
  campaign: {
    envPrefix: "CAMPAIGN",
    port: 50053,
    metricsPort: 9453,
    database: "adbudget_campaign",
    role: "campaign-service",
  },
} as const satisfies Record<string, ServiceDeclaration>;

export type ServiceName = keyof typeof SERVICES;
export const SERVICE_NAMES: readonly ServiceName[] = ["brand", "budget", "campaign"];

/** The clocks: the Temporal worker, a workload that serves no RPC (its metrics are the SDK's). */
export const WORKER = { name: "clocks", envPrefix: "CLOCKS", metricsPort: 9454, role: "clocks" } as const;

/** Every process with an identity of its own: the services and the worker. */
export type Workload = ServiceName | typeof WORKER.name;
export const WORKLOADS: readonly Workload[] = [...SERVICE_NAMES, WORKER.name];

/**
 * The stream each service owns (creates, and publishes its outbox into): its name's variable
 * and default, the subjects it holds, and the event subjects the service publishes there. Subjects
 * are written after the prefix (EVENT_SUBJECT_PREFIX); `*` stands for the aggregate's id.
 */
export interface StreamDeclaration {
  readonly env: string;
  readonly name: string;
  readonly subjects: readonly string[];
  readonly events: readonly string[];
}

export const STREAMS = {
  brand: { env: "BRAND_STREAM", name: "ADBUDGET_BRAND", subjects: ["brand.>"], events: ["brand.changed.*"] },
  budget: {
    env: "BUDGET_STREAM",
    name: "ADBUDGET_BUDGET",
    subjects: ["budget.>"],
    events: [
      "budget.exhausted.*",
      "budget.replenished.*",
      "budget.threshold.*",
      "budget.campaign_exhausted.*",
      "budget.campaign_replenished.*",
      "budget.throttle.*",
    ],
  },
  campaign: {
    env: "CAMPAIGN_STREAM",
    name: "ADBUDGET_CAMPAIGN",
    subjects: ["campaign.>"],
    events: ["campaign.state.*"],
  },
} as const satisfies Record<ServiceName, StreamDeclaration>;

/**
 * A durable JetStream pull consumer a workload runs on another's stream: replicas of the workload
 * share it (its name's variable and default), and it sees the stream's subjects matching `filter`.
 */
export interface ConsumerDeclaration {
  /** The service whose stream it reads. */
  readonly stream: ServiceName;
  readonly filter: string;
  readonly env: string;
  readonly durable: string;
}

/**
 * The consumers of each workload, by the name its code starts them with (also the `component`
 * of their log lines). A new consumer is one entry here and its handler: the workload's app starts
 * it, and its NATS permissions follow (nats-users.ts).
 */
export const CONSUMERS = {
  brand: {},
  budget: {
    // The campaigns' daily caps (campaign-caps.ts).
    "campaign-events": {
      stream: "campaign",
      filter: "campaign.>",
      env: "BUDGET_CAMPAIGN_CONSUMER",
      durable: "budget-campaign-events",
    },
  },
  campaign: {
    // Exhaustion and replenishment pause and resume campaigns.
    "budget-events": {
      stream: "budget",
      filter: "budget.>",
      env: "CAMPAIGN_BUDGET_CONSUMER",
      durable: "campaign-budget-events",
    },
    // Archives and zone changes.
    "brand-events": {
      stream: "brand",
      filter: "brand.>",
      env: "CAMPAIGN_BRAND_CONSUMER",
      durable: "campaign-brand-events",
    },
  },
  clocks: {
    // Reset workflows of brands.
    "brand-events": {
      stream: "brand",
      filter: "brand.>",
      env: "CLOCKS_BRAND_CONSUMER",
      durable: "clocks-brand-events",
    },
    // Daypart workflows of campaigns.
    "campaign-events": {
      stream: "campaign",
      filter: "campaign.>",
      env: "CLOCKS_CAMPAIGN_CONSUMER",
      durable: "clocks-campaign-events",
    },
  },
} as const satisfies Record<Workload, Record<string, ConsumerDeclaration>>;

export type ConsumerName<W extends Workload> = keyof (typeof CONSUMERS)[W] & string;

/**
 * Core NATS subscriptions (live feeds, not durable work) on a workload's own events, besides its
 * inbox: what a watch RPC streams to its callers, heard from every replica's commits.
 */
export const SUBSCRIPTIONS = {
  brand: [],
  budget: ["budget.threshold.>"], // WatchBudgetAlerts
  campaign: ["campaign.state.>"], // WatchCampaigns
  clocks: [],
} as const satisfies Record<Workload, readonly string[]>;

/**
 * The services each workload calls (typed clients on `<PREFIX>_SERVICE_URL`). An optional one
 * may be set to "none" where it is not deployed: the caller then does without (docs/design.md).
 */
export const CALLS = {
  brand: { budget: "optional" }, // asked whether a brand has spend before its zone changes
  budget: { brand: "required", campaign: "optional" }, // brands' zones; campaigns' owners
  campaign: { brand: "required" },
  clocks: { brand: "required", budget: "required", campaign: "required" },
} as const satisfies Record<Workload, Partial<Record<ServiceName, "required" | "optional">>>;

export type Callee<W extends Workload> = keyof (typeof CALLS)[W] & ServiceName;

/** First token of every subject; tests give each system its own. */
export const SUBJECT_PREFIX = { env: "EVENT_SUBJECT_PREFIX", default: "adbudget" } as const;

/**
 * How many servers of a NATS cluster keep each stream (JetStream's `num_replicas`), as a stream
 * is created: 1 on one server (development); 3 on a cluster of three, so that a stream goes on
 * with one server down (a majority of its replicas is left). 5 at most, JetStream's bound.
 */
export const STREAM_REPLICAS = { env: "STREAM_REPLICAS", default: 1, max: 5 } as const;

/** Where the infrastructure is by default: a developer machine (`npm start`, deploy/local/infra.sh). */
export const INFRASTRUCTURE = {
  /** The PostgreSQL server (no database in the path): each service's database is on it. */
  postgres: { env: "PG_URL", default: "postgres://postgres@127.0.0.1:5432" },
  nats: { env: "NATS_URL", default: "nats://127.0.0.1:4222" },
  /** The Temporal frontend of the clocks worker (host:port). */
  temporal: { env: "TEMPORAL_ADDRESS", default: "127.0.0.1:7233" },
} as const;

/** The default URL of a service: its default port on this machine. */
export function defaultServiceUrl(service: ServiceName): string {
  return `http://127.0.0.1:${SERVICES[service].port}`;
}

/** The variable holding a service's URL for its callers. */
export function serviceUrlVariable(service: ServiceName): string {
  return `${SERVICES[service].envPrefix}_SERVICE_URL`;
}
