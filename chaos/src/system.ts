import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import {
  Balancer,
  durableSettings,
  launchSystemProcesses,
  PG_URL,
  type LaunchedProcess,
  type ServiceProcess,
  type TestAuth,
  type TestDatabase,
} from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { DatabaseProxy, natsServer, temporalServer } from "./infra.ts";

export type ServiceName = "brand" | "budget" | "campaign";
export const REPLICAS = 2;

/** One service replica: its process (killed and restarted by the faults), address and /metrics. */
export type Replica = ServiceProcess;

export interface ChaosSystem {
  dir: string;
  auth: TestAuth;
  clockOffsetMs: number;
  now(): number;
  db: DatabaseProxy;
  databases: Record<ServiceName, TestDatabase>;
  nats: Awaited<ReturnType<typeof natsServer>>;
  temporal: Awaited<ReturnType<typeof temporalServer>>;
  replicas: Replica[];
  /** Each service's balanced address (what clients of the service use). */
  balanced: Record<ServiceName, string>;
  clocks: LaunchedProcess;
  prefix: string;
  streams: { brand: string; budget: string; campaign: string };
  /** The campaign service's durable consumer of the budget stream (CAMPAIGN_BUDGET_CONSUMER). */
  campaignBudgetDurable: string;
  /** Admin clients of each service's balanced address. */
  brands: Client<typeof BrandService>;
  budget: Client<typeof BudgetService>;
  campaigns: Client<typeof CampaignService>;
  client<S extends typeof BrandService | typeof BudgetService | typeof CampaignService>(
    service: S,
    url: string,
    interceptors?: Interceptor[],
  ): Client<S>;
  replicasOf(service: ServiceName): Replica[];
  /** Waits until the replica answers health SERVING. */
  healthy(replica: Replica, timeoutMs?: number): Promise<void>;
  tail(): string;
  stop(): Promise<void>;
}

/**
 * The whole system as processes, as a deployment runs it, for the faults: two replicas of each
 * built service and the clocks worker, started by the process launcher of @adbudget/testing
 * (their real mains, configured by environment only), with a NATS server and a Temporal dev
 * server (persisted) of the suite alone, PostgreSQL behind toxiproxy, and callers reaching each
 * service through a balancer over its replicas. Every process runs on the same shifted clock
 * (`clockOffsetMs`); each logs to `<logDir>/<name>.log`, appended across restarts.
 */
export async function startChaosSystem(options: {
  clockOffsetMs: number;
  logDir?: string;
  reconcileIntervalMs?: number;
  metrics?: boolean;
}): Promise<ChaosSystem> {
  const dir = mkdtempSync(join(tmpdir(), "adbudget-chaos-"));
  const logDir = options.logDir ?? join(dir, "logs");
  mkdirSync(logDir, { recursive: true });
  const pg = new URL(PG_URL);
  const db = await DatabaseProxy.start(`${pg.hostname}:${pg.port || 5432}`, logDir);
  const nats = await natsServer(dir, logDir);
  nats.process.start();
  await nats.ready();
  const temporal = await temporalServer(dir, logDir);
  temporal.process.start();
  await temporal.ready();
  const infra = [nats.process, temporal.process];
  const balancers: Balancer[] = [];
  const stopInfra = async () => {
    await nats.process.stop();
    await temporal.process.stop();
    await db.close();
    for (const b of balancers) await b.close();
    for (const p of infra) p.close();
    rmSync(dir, { recursive: true, force: true });
  };

  let launched;
  try {
    launched = await launchSystemProcesses({
      kind: "chaos",
      replicas: { brand: REPLICAS, budget: REPLICAS, campaign: REPLICAS },
      natsUrl: nats.url,
      temporalAddress: temporal.address,
      // One address per service for its callers, balancing connections over its replicas, as a Service.
      route: async (_service, urls) => {
        const b = await Balancer.start(urls.map((u) => Number(new URL(u).port)));
        balancers.push(b);
        return b.url;
      },
      databaseUrl: (_service, d: TestDatabase) => {
        const u = new URL(d.url);
        u.host = `127.0.0.1:${db.port}`;
        return u.toString();
      },
      metrics: options.metrics ?? false,
      env: () => ({ LOG_LEVEL: "info", SHUTDOWN_GRACE_MS: "2000", CLOCK_OFFSET_MS: String(options.clockOffsetMs) }),
      workerEnv: { RECONCILE_INTERVAL_MS: String(options.reconcileIntervalMs ?? 0) },
      logDir,
      appendLogs: true,
      stopGraceMs: 3000,
      // The load starts once the services serve; the worker catches up as it would after a deploy.
      waitForWorker: false,
    });
  } catch (err) {
    const tail = infra.map((p) => p.lastLines(8)).join("\n");
    await stopInfra();
    throw new Error(`${(err as Error).message}\n${tail}`, { cause: err });
  }
  const system = launched;
  const auth = system.auth;
  const client = <S extends typeof BrandService | typeof BudgetService | typeof CampaignService>(
    service: S,
    at: string,
    interceptors: Interceptor[] = auth.admin,
  ) => createClient(service, createGrpcTransport({ baseUrl: at, interceptors }));
  const databases = system.databases as Record<ServiceName, TestDatabase>;
  const clocks = system.worker;
  if (clocks === undefined) throw new Error("the launcher started no clocks worker");
  return {
    dir,
    auth,
    clockOffsetMs: options.clockOffsetMs,
    now: () => Date.now() + options.clockOffsetMs,
    db,
    databases,
    nats,
    temporal,
    replicas: system.replicas,
    balanced: system.urls,
    clocks,
    prefix: system.plan.tag,
    streams: system.plan.streams,
    campaignBudgetDurable: durableSettings("campaign", system.plan.tag).CAMPAIGN_BUDGET_CONSUMER ?? "",
    brands: client(BrandService, system.urls.brand),
    budget: client(BudgetService, system.urls.budget),
    campaigns: client(CampaignService, system.urls.campaign),
    client,
    replicasOf: system.replicasOf,
    healthy: system.healthy,
    tail: () => [...system.processes, ...infra].map((p) => p.lastLines(8)).join("\n"),
    async stop() {
      await system.stop();
      await stopInfra();
    },
  };
}
