import { join } from "node:path";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { clientTls, createLogger, natsServers } from "@adbudget/kit";
import { ACCESS, type Workload } from "@adbudget/topology";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { freePort } from "./ports.js";
import { quietClockOffset } from "./test-clock.js";
import { readBrandConfig, startBrandApp, type BrandApp } from "@adbudget/brand-service";
import { readBudgetConfig, startBudgetApp, type BudgetApp } from "@adbudget/budget-service";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { readCampaignConfig, startCampaignApp, type CampaignApp } from "@adbudget/campaign-service";

import { createTestAuth, type TestAuth } from "./auth.js";
import { calleeSettings, newTag, planSystem, serviceSettings } from "./launcher-plan.js";
import { NATS_URL } from "./nats.js";

export interface SystemHarness {
  /** The system's keys: the clients below are admins; `auth.as(...)` for other roles. */
  auth: TestAuth;
  brandApp: BrandApp;
  budgetApp: BudgetApp;
  campaignApp: CampaignApp;
  brands: Client<typeof BrandService>;
  budget: Client<typeof BudgetService>;
  campaigns: Client<typeof CampaignService>;
  campaignClock: Client<typeof CampaignClockService>;
  budgetClock: Client<typeof BudgetClockService>;
  prefix: string;
  budgetStream: string;
  brandStream: string;
  campaignStream: string;
  nc: NatsConnection;
  /** TLS_* settings of `workload` under mutual TLS (`tlsDir`), else none: a worker joining the system takes them. */
  tlsEnvOf(workload: Workload): Record<string, string>;
  /** A transport to one of the system's services, with the operator's client certificate under mutual TLS. */
  transport(url: string, interceptors: Interceptor[]): Transport;
  /**
   * A transport for a caller of `role`: under mutual TLS a workload's role presents that
   * workload's certificate (its tokens count only with it), any other role the operator's.
   */
  transportFor(role: string, url: string, interceptors: Interceptor[]): Transport;
  /** CLOCK_OFFSET_MS of every service (and of a clocks worker started with them). */
  clockOffsetMs: number;
  /** The services' "now": what tests derive dates and daypart windows from. */
  now(): number;
  /** Another budget service on the same database (cold caches, as after a restart or on another pod). */
  startBudgetReplica(): Promise<Client<typeof BudgetService>>;
  /** Another campaign service on the same database and durable consumers (a second pod): its clients. */
  startCampaignReplica(): Promise<{
    campaigns: Client<typeof CampaignService>;
    campaignClock: Client<typeof CampaignClockService>;
    app: CampaignApp;
  }>;
  /** Stops the campaign service (its database and consumer position stay). */
  stopCampaign(): Promise<void>;
  /** Starts it again on the same database and durable consumer. */
  startCampaign(): Promise<void>;
  close(): Promise<void>;
}

/**
 * All three services in this process over real ports, each with its own fresh database, wired as
 * in production (typed clients between them, events over NATS) under this test's own subject
 * prefix and streams (planSystem). The same system as processes: launchSystemProcesses.
 */
export async function startSystemInProcess(
  options: {
    campaignEnv?: Record<string, string>;
    /** Settings of one service only (its NATS credentials, say), over `env`. */
    brandEnv?: Record<string, string>;
    budgetEnv?: Record<string, string>;
    /** For every service; `NATS_URL` here also points the harness's own connection (`nc`) there. */
    env?: Record<string, string>;
    /** Options of the harness's own NATS connection (credentials on a server with authorization). */
    natsConnect?: Omit<ConnectionOptions, "servers">;
    /** The subject prefix (streams: `<TAG>_BRAND`, ...) instead of a random one, for a NATS authorization made for it. */
    tag?: string;
    /** One clock for every service, moved by the test (ServiceAppSpec.now); CLOCK_OFFSET_MS is then unused. */
    now?: () => number;
    /**
     * Mutual TLS between every part of the system: the certificates `scripts/dev-certs.sh` made in
     * this folder (each workload serves and calls with its own, TLS_CLIENT_AUTH=require; the
     * harness's clients present the operator's, its clocks clients the clocks worker's).
     */
    tlsDir?: string;
  } = {},
): Promise<SystemHarness> {
  // Every service on one clock: a quiet one (the next local noon) unless the test brings its own.
  const clockOffset = options.env?.CLOCK_OFFSET_MS ?? String(quietClockOffset());
  const auth = await createTestAuth();
  const { tlsDir } = options;
  const tlsEnvOf = (w: Workload): Record<string, string> =>
    tlsDir === undefined
      ? {}
      : {
          TLS_CERT_FILE: join(tlsDir, `${w}.pem`),
          TLS_KEY_FILE: join(tlsDir, `${w}-key.pem`),
          TLS_CA_FILE: join(tlsDir, "ca.pem"),
          TLS_CLIENT_AUTH: "require",
        };
  /** A transport presenting `cert`'s certificate when the system runs mutual TLS. */
  const transportAs = (cert: string) => (url: string, interceptors: Interceptor[]) =>
    createGrpcTransport({
      baseUrl: url,
      interceptors,
      ...(tlsDir === undefined
        ? {}
        : clientTls(url, {
            tlsCaFile: join(tlsDir, "ca.pem"),
            tlsClientCertFile: join(tlsDir, `${cert}.pem`),
            tlsClientKeyFile: join(tlsDir, `${cert}-key.pem`),
          })),
    });
  const operatorTransport = transportAs("operator");
  const clocksTransport = transportAs("clocks");
  const scheme = tlsDir === undefined ? "http" : "https";
  // QUOTAS off: the harness's admin sets up at test speed, far past a person's 20 writes a second
  // (a test of the quotas turns them on).
  options = { ...options, env: { ...auth.env, QUOTAS: "off", ...options.env, CLOCK_OFFSET_MS: clockOffset } };
  const plan = planSystem(options.tag ?? newTag("t"));
  const tag = plan.tag;
  const budgetStream = plan.streams.budget;
  const campaignStream = plan.streams.campaign;
  const dbs: TestDatabase[] = [await createTestDatabase(), await createTestDatabase(), await createTestDatabase()];
  const silent = createLogger("test", process.env.TEST_LOG_LEVEL ?? "silent");
  // The brand service asks the budget service (started later) about spend: fix its port now.
  const budgetPort = await freePort();
  const brandApp = await startBrandApp(
    readBrandConfig({
      BRAND_HOST: "127.0.0.1",
      ...serviceSettings("brand", { port: 0, metricsPort: 0, databaseUrl: dbs[0].url }),
      SHUTDOWN_GRACE_MS: "500",
      NATS_URL,
      ...plan.env,
      ...calleeSettings("brand", { budget: `${scheme}://127.0.0.1:${budgetPort}` }),
      ...options.env,
      ...auth.envOf("brand"),
      ...tlsEnvOf("brand"),
      ...options.brandEnv,
    }),
    { logger: silent, now: options.now },
  );
  let campaignPort = "0";
  const campaignConfig = () =>
    readCampaignConfig({
      CAMPAIGN_HOST: "127.0.0.1",
      ...serviceSettings("campaign", { port: campaignPort, metricsPort: 0, databaseUrl: dbs[2].url }),
      ...calleeSettings("campaign", { brand: brandApp.server.url }),
      NATS_URL,
      ...plan.env,
      SHUTDOWN_GRACE_MS: "500",
      ...options.env,
      ...auth.envOf("campaign"),
      ...tlsEnvOf("campaign"),
      ...options.campaignEnv,
    });
  let campaignApp = await startCampaignApp(campaignConfig(), { logger: silent, relayPollMs: 200, now: options.now });
  campaignPort = String(campaignApp.server.port);
  const budgetConfig = (port: string) =>
    readBudgetConfig({
      BUDGET_HOST: "127.0.0.1",
      ...serviceSettings("budget", { port, metricsPort: 0, databaseUrl: dbs[1].url }),
      ...calleeSettings("budget", { brand: brandApp.server.url, campaign: campaignApp.server.url }),
      NATS_URL,
      ...plan.env,
      SHUTDOWN_GRACE_MS: "500",
      ...options.env,
      ...auth.envOf("budget"),
      ...tlsEnvOf("budget"),
      ...options.budgetEnv,
    });
  const budgetApp = await startBudgetApp(budgetConfig(String(budgetPort)), {
    logger: silent,
    relayPollMs: 200,
    now: options.now,
  });
  const replicas: { stop(): Promise<void> }[] = [];
  // NATS_URL: one server, or a cluster's servers comma-separated (as the services read it).
  const nc = await connect({ servers: natsServers(options.env?.NATS_URL ?? NATS_URL), ...options.natsConnect });
  const t = (url: string) => operatorTransport(url, auth.admin);
  const clocks = await auth.as({ sub: "test:clocks", role: "clocks" });
  const h: SystemHarness = {
    auth,
    brandApp,
    budgetApp,
    campaignApp,
    brands: createClient(BrandService, t(brandApp.server.url)),
    budget: createClient(BudgetService, t(budgetApp.server.url)),
    campaigns: createClient(CampaignService, t(campaignApp.server.url)),
    // The clock services answer the clocks identity alone: these clients carry it.
    campaignClock: createClient(CampaignClockService, clocksTransport(campaignApp.server.url, clocks)),
    budgetClock: createClient(BudgetClockService, clocksTransport(budgetApp.server.url, clocks)),
    prefix: tag,
    budgetStream,
    brandStream: plan.streams.brand,
    campaignStream,
    nc,
    tlsEnvOf,
    transport: operatorTransport,
    transportFor: (role, url, interceptors) =>
      transportAs(ACCESS.workloadCertificates?.[role] ?? "operator")(url, interceptors),
    clockOffsetMs: Number(clockOffset),
    now: options.now ?? (() => Date.now() + Number(clockOffset)),
    async startBudgetReplica() {
      const replica = await startBudgetApp(budgetConfig("0"), { logger: silent, relayPollMs: 200, now: options.now });
      replicas.push(replica);
      return createClient(BudgetService, t(replica.server.url));
    },
    async startCampaignReplica() {
      const saved = campaignPort;
      campaignPort = "0";
      const app = await startCampaignApp(campaignConfig(), { logger: silent, relayPollMs: 200, now: options.now });
      campaignPort = saved;
      replicas.push(app);
      return {
        app,
        campaigns: createClient(CampaignService, t(app.server.url)),
        campaignClock: createClient(CampaignClockService, clocksTransport(app.server.url, clocks)),
      };
    },
    async stopCampaign() {
      await h.campaignApp.stop();
    },
    async startCampaign() {
      campaignApp = await startCampaignApp(campaignConfig(), { logger: silent, relayPollMs: 200, now: options.now });
      h.campaignApp = campaignApp;
    },
    async close() {
      try {
        for (const r of replicas) await r.stop();
        await budgetApp.stop();
        await h.campaignApp.stop().catch(() => undefined);
        await brandApp.stop();
        // Best effort: JetStream may be electing a leader (a test killed a server of its cluster).
        const jsm = await jetstreamManager(nc, { timeout: 10_000 }).catch(() => undefined);
        for (const s of Object.values(plan.streams)) await jsm?.streams.delete(s).catch(() => undefined);
      } finally {
        await nc.close();
        for (const db of dbs) await db.drop();
      }
    },
  };
  return h;
}
