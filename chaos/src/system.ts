import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createTestAuth, createTestDatabase, freePort, PG_URL, type TestAuth, type TestDatabase } from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import { Balancer } from "./balancer.ts";
import { DatabaseProxy, natsServer, temporalServer } from "./infra.ts";
import { Restartable } from "./processes.ts";

const entry = (pkg: string, file: string) => join(dirname(createRequire(import.meta.url).resolve(pkg)), file);

export type ServiceName = "brand" | "budget" | "campaign";
export const REPLICAS = 2;

/** One service replica: its process, address and databases. */
export interface Replica {
  name: string;
  service: ServiceName;
  url: string;
  process: Restartable;
  /** Its Prometheus /metrics, with `metrics: true`. */
  metricsUrl: string | undefined;
}

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
  clocks: Restartable;
  prefix: string;
  streams: { brand: string; budget: string; campaign: string };
  /** The campaign service's durable consumer of the budget stream (CAMPAIGN_BUDGET_CONSUMER). */
  campaignBudgetDurable: string;
  /** Admin clients of each service's balanced address. */
  brands: Client<typeof BrandService>;
  budget: Client<typeof BudgetService>;
  campaigns: Client<typeof CampaignService>;
  client<S extends typeof BrandService | typeof BudgetService | typeof CampaignService>(service: S, url: string, interceptors?: Interceptor[]): Client<S>;
  replicasOf(service: ServiceName): Replica[];
  /** Waits until the replica answers health SERVING. */
  healthy(replica: Replica, timeoutMs?: number): Promise<void>;
  tail(): string;
  stop(): Promise<void>;
}

/**
 * The whole system as processes, as a deployment runs it, for the faults: two replicas of each
 * built service (their real mains, configured by environment only), the clocks worker, a NATS
 * server and a Temporal dev server (persisted) of the suite alone, and PostgreSQL behind
 * toxiproxy. Every process runs on the same shifted clock (`clockOffsetMs`).
 */
export async function startChaosSystem(options: { clockOffsetMs: number; logDir?: string; reconcileIntervalMs?: number; metrics?: boolean }): Promise<ChaosSystem> {
  const dir = mkdtempSync(join(tmpdir(), "adbudget-chaos-"));
  const logDir = options.logDir ?? join(dir, "logs");
  mkdirSync(logDir, { recursive: true });
  const tag = `chaos${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
  const streams = { brand: `${tag.toUpperCase()}_BRAND`, budget: `${tag.toUpperCase()}_BUDGET`, campaign: `${tag.toUpperCase()}_CAMPAIGN` };
  const auth = await createTestAuth();
  const pg = new URL(PG_URL);
  const db = await DatabaseProxy.start(`${pg.hostname}:${pg.port || 5432}`, logDir);
  const databases = { brand: await createTestDatabase(), budget: await createTestDatabase(), campaign: await createTestDatabase() };
  const viaProxy = (d: TestDatabase) => {
    const u = new URL(d.url);
    u.host = `127.0.0.1:${db.port}`;
    return u.toString();
  };
  const nats = await natsServer(dir, logDir);
  nats.process.start();
  await nats.ready();
  const temporal = await temporalServer(dir, logDir);
  temporal.process.start();
  await temporal.ready();

  const ports: Record<ServiceName, number[]> = { brand: [], budget: [], campaign: [] };
  for (const s of ["brand", "budget", "campaign"] as const) for (let i = 0; i < REPLICAS; i++) ports[s].push(await freePort());
  const url = (s: ServiceName, i = 0) => `http://127.0.0.1:${ports[s][i]}`;
  // One address per service for its callers, balancing connections over its replicas.
  const balancers = {
    brand: await Balancer.start(ports.brand),
    budget: await Balancer.start(ports.budget),
    campaign: await Balancer.start(ports.campaign),
  };
  const common: Record<string, string> = {
    ...auth.env,
    NATS_URL: nats.url,
    EVENT_SUBJECT_PREFIX: tag,
    BRAND_STREAM: streams.brand,
    BUDGET_STREAM: streams.budget,
    CAMPAIGN_STREAM: streams.campaign,
    CAMPAIGN_BUDGET_CONSUMER: `${tag}-campaign-budget`,
    HOST: "127.0.0.1",
    METRICS: options.metrics ? "on" : "off",
    LOG_LEVEL: "info",
    SHUTDOWN_GRACE_MS: "2000",
    CLOCK_OFFSET_MS: String(options.clockOffsetMs),
    // Callers reach a service through its balancer, as through a Service.
    BRAND_SERVICE_URL: balancers.brand.url,
    BUDGET_SERVICE_URL: balancers.budget.url,
    CAMPAIGN_SERVICE_URL: balancers.campaign.url,
  };
  const replicas: Replica[] = [];
  for (const service of ["brand", "campaign", "budget"] as const) {
    for (let i = 0; i < REPLICAS; i++) {
      const prefix = service.toUpperCase();
      const name = `${service}-${i}`;
      const metricsPort = options.metrics ? await freePort() : undefined;
      const process = new Restartable(name, globalThis.process.execPath, [entry(`@adbudget/${service}-service`, "main.js")], {
        ...common,
        [`${prefix}_PORT`]: String(ports[service][i]),
        [`${prefix}_DATABASE_URL`]: viaProxy(databases[service]),
        // Replica 0 migrates; two replicas migrating at once would race.
        MIGRATE_ON_START: i === 0 ? "true" : "false",
        ...(metricsPort ? { [`${prefix}_METRICS_PORT`]: String(metricsPort) } : {}),
      }, join(logDir, `${name}.log`));
      replicas.push({ name, service, url: url(service, i), process, metricsUrl: metricsPort ? `http://127.0.0.1:${metricsPort}/metrics` : undefined });
    }
  }
  const clocksMetricsPort = options.metrics ? await freePort() : undefined;
  const clocks = new Restartable("clocks", globalThis.process.execPath, [entry("@adbudget/workflows", "worker-main.js")], {
    ...common,
    ...(clocksMetricsPort ? { CLOCKS_METRICS_PORT: String(clocksMetricsPort) } : {}),
    TEMPORAL_ADDRESS: temporal.address,
    TEMPORAL_TASK_QUEUE: `${tag}-clocks`,
    CLOCKS_BRAND_CONSUMER: `${tag}-clocks-brand`,
    CLOCKS_CAMPAIGN_CONSUMER: `${tag}-clocks-campaign`,
    RECONCILE_INTERVAL_MS: String(options.reconcileIntervalMs ?? 0),
  }, join(logDir, "clocks.log"));

  const client = <S extends typeof BrandService | typeof BudgetService | typeof CampaignService>(service: S, at: string, interceptors: Interceptor[] = auth.admin) =>
    createClient(service, createGrpcTransport({ baseUrl: at, interceptors }));
  const healthy = async (r: Replica, timeoutMs = 60_000) => {
    const health = createClient(Health, createGrpcTransport({ baseUrl: r.url }));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ok = await health.check({ service: "" }, { timeoutMs: 1000 }).then((res) => res.status === Status.SERVING, () => false);
      if (ok) return;
      if (!r.process.running) throw new Error(`${r.name} exited:\n${r.process.lastLines()}`);
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`${r.name} not SERVING after ${timeoutMs} ms:\n${r.process.lastLines()}`);
  };
  const system: ChaosSystem = {
    dir,
    auth,
    clockOffsetMs: options.clockOffsetMs,
    now: () => Date.now() + options.clockOffsetMs,
    db,
    databases,
    nats,
    temporal,
    replicas,
    balanced: { brand: balancers.brand.url, budget: balancers.budget.url, campaign: balancers.campaign.url },
    clocks,
    prefix: tag,
    streams,
    campaignBudgetDurable: `${tag}-campaign-budget`,
    brands: client(BrandService, balancers.brand.url),
    budget: client(BudgetService, balancers.budget.url),
    campaigns: client(CampaignService, balancers.campaign.url),
    client,
    replicasOf: (s) => replicas.filter((r) => r.service === s),
    healthy,
    tail: () => [...replicas.map((r) => r.process), clocks, nats.process, temporal.process].map((p) => p.lastLines(8)).join("\n"),
    async stop() {
      await Promise.all([...replicas.map((r) => r.process), clocks].map((p) => p.stop(3000)));
      await nats.process.stop();
      await temporal.process.stop();
      await db.close();
      for (const b of Object.values(balancers)) await b.close();
      for (const p of [...replicas.map((r) => r.process), clocks, nats.process, temporal.process]) p.close();
      for (const d of Object.values(databases)) await d.drop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    // Replica 0 first (it migrates), then the rest; the worker once the services serve.
    for (const service of ["brand", "campaign", "budget"] as const) {
      const [first, ...rest] = system.replicasOf(service);
      first!.process.start();
      await healthy(first!);
      for (const r of rest) r.process.start();
      for (const r of rest) await healthy(r);
    }
    clocks.start();
  } catch (err) {
    const tail = system.tail();
    await system.stop();
    throw new Error(`${(err as Error).message}\n${tail}`);
  }
  return system;
}
