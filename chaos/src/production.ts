import { createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { SERVICE_NAMES, SERVICES, STREAMS, WORKER, type ServiceName, type Workload } from "@adbudget/topology";
import { Balancer, launchSystemProcesses, productionNames, type TestDatabase } from "@adbudget/testing";
import { JetStreamApiCodes, JetStreamApiError, jetstreamManager } from "@nats-io/jetstream";
import { Connection } from "@temporalio/client";
import { natsServers } from "@adbudget/kit";
import { connect as netConnect } from "node:net";
import { connect } from "@nats-io/transport-node";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setUp } from "./cast.ts";
import { heldBoundaryVerdict } from "./clock-verdicts.ts";
import { SpendLoad } from "./load.ts";
import { Watcher } from "./observers.ts";
import {
  ensureEngines,
  killDaemon,
  pgDataOf,
  pgStates,
  primaryNode,
  type EngineSettings,
} from "./production-engines.ts";
import { settled, stateChanges, type Plan, type Report } from "./run.ts";
import { systemInvariants } from "./system-invariants.ts";

/**
 * `npm run chaos -- --topology production`: the faults that only the production topology has,
 * on its engines (deploy/local/production.sh: a pg_auto_failover pair, three NATS servers with
 * TLS and a user per workload, the Temporal server on the pair), with the built system on them
 * (two replicas of each service behind a balancer, the clocks worker) under the suite's spend
 * load and cast:
 * - the PostgreSQL primary's machine lost (keeper and server SIGKILLed as one) under load;
 * - one NATS server of three SIGKILLed, a brand's day run out meanwhile;
 * - the Temporal server SIGKILLed across the brands' local midnight (a daypart boundary and a
 *   budget reset), on the same shifted clock as the suite's.
 * Each fault's time to recover is measured; then the suite's invariants. The services speak
 * plaintext on loopback here (mutual TLS is `TOPOLOGY=production npm start`'s and the NATS
 * permissions test's); the run uses the topology's own subject and stream names (the NATS users'
 * permissions name them), so it is alone on those engines: their streams are emptied first.
 */
export const PRODUCTION: Plan = {
  name: "production",
  writers: 6,
  outageMs: 10_000,
  restartAfterMs: 3000,
  budgetKills: 0,
  // The system's start, the set-up, a PostgreSQL failover (~14 s) with the node's return, and the
  // NATS fault come before the clocks', with a margin for a slow machine.
  midnightAfterMs: 240_000,
};

const DAY = 86_400_000;
/** The NATS administrator's connection options (the topology's `admin` user, over TLS). */
type NatsAdmin = { user: string; pass: string; tls: { caFile: string } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export interface Recovery {
  fault: string;
  /** From the fault to the first success after it, ms. */
  recoveredMs: number;
  what: string;
}

export async function runProductionChaos(plan = PRODUCTION): Promise<{ report: Report; recoveries: Recovery[] }> {
  const log = plan.log ?? ((line: string) => console.error(line));
  for (const svc of SERVICE_NAMES)
    if (await listening(SERVICES[svc].port))
      throw new Error(
        `something serves on :${SERVICES[svc].port} (TOPOLOGY=production npm start?): this run empties the topology's streams; stop it first`,
      );
  log("[chaos] the production topology's engines (npm run infra -- --topology production)");
  const engines = await ensureEngines();
  const natsAdmin: NatsAdmin = {
    user: "admin",
    pass: engines.NATS_ADMIN_PASSWORD ?? "",
    tls: { caFile: join(engines.TLS_DIR ?? "", "ca.pem") },
  };
  await emptyStreams(engines, natsAdmin);
  process.env.PG_URL = engines.PG_URL; // the run's databases go on the pair
  const midnight = (Math.floor(Date.now() / DAY) + 3) * DAY;
  const clockOffsetMs = midnight - (Date.now() + plan.midnightAfterMs);
  const now = () => Date.now() + clockOffsetMs;
  const identity = (w: Workload) => ({
    ...productionNames(w),
    NATS_USER: w,
    NATS_PASSWORD: engines[`NATS_${w.toUpperCase()}_PASSWORD`] ?? "",
  });
  const balancers: Balancer[] = [];
  const logDir = join(import.meta.dirname, "..", "..", ".data", "logs", "chaos-production");
  mkdirSync(logDir, { recursive: true });
  log(`[chaos] the system's logs: ${logDir}`);
  const system = await launchSystemProcesses({
    kind: "chaosprod",
    replicas: { brand: 2, budget: 2, campaign: 2 },
    natsUrl: engines.NATS_URL,
    temporalAddress: engines.TEMPORAL_ADDRESS,
    route: async (_s, urls) => {
      const b = await Balancer.start(urls.map((u) => Number(new URL(u).port)));
      balancers.push(b);
      return b.url;
    },
    metrics: false,
    env: () => ({
      LOG_LEVEL: "info",
      SHUTDOWN_GRACE_MS: "2000",
      CLOCK_OFFSET_MS: String(clockOffsetMs),
      STREAM_REPLICAS: engines.STREAM_REPLICAS ?? "3",
      NATS_TLS_CA_FILE: natsAdmin.tls.caFile,
    }),
    replicaEnv: (s) => identity(s),
    workerEnv: { ...identity(WORKER.name), RECONCILE_INTERVAL_MS: "0" },
    logDir,
    appendLogs: true,
    stopGraceMs: 3000,
    waitForWorker: false,
  });
  /** A fault not undone yet: the `finally` brings its engine back. */
  let outstanding = false;
  // Interrupted (Ctrl-C): the system's processes stop with the run, not after it.
  const interrupted = () => void system.stop().then(() => process.exit(130));
  process.once("SIGINT", interrupted);
  process.once("SIGTERM", interrupted);
  const t0 = Date.now();
  const faults: { at: number; what: string }[] = [];
  const fault = (what: string) => {
    faults.push({ at: Date.now(), what });
    log(`[chaos +${((Date.now() - t0) / 1000).toFixed(1)}s] ${what}`);
  };
  const client = <S extends typeof BrandService | typeof BudgetService | typeof CampaignService>(
    service: S,
    at: string,
    interceptors: Interceptor[] = system.auth.admin,
  ) => createClient(service, createGrpcTransport({ baseUrl: at, interceptors }));
  const clients = {
    brands: client(BrandService, system.urls.brand),
    budget: client(BudgetService, system.urls.budget),
    campaigns: client(CampaignService, system.urls.campaign),
  };
  const databases = system.databases as Record<ServiceName, TestDatabase>;
  const recoveries: Recovery[] = [];
  let load: SpendLoad | undefined;
  let watchers: Watcher[] = [];
  try {
    const cast = await setUp({ ...clients, auth: system.auth, prefix: system.plan.tag }, midnight);
    log(`[chaos] system up on the production engines; midnight at +${((midnight - now()) / 1000).toFixed(0)}s`);
    watchers = system.replicasOf("campaign").map((r) => new Watcher(r.name, client(CampaignService, r.url)));
    load = new SpendLoad(client(BudgetService, system.urls.budget, cast.adServer), cast.loadTargets, {
      writers: plan.writers,
      now,
    });
    load.start();
    const running = load;
    const ackedAfter = (at: number) =>
      running.records.find((r) => r.outcome === "ok" && r.occurredAtMs - clockOffsetMs >= at);

    // 1. The PostgreSQL primary's machine, under load: its keeper and its server die together.
    await sleep(5000);
    const primary = await primaryNode();
    if (primary === undefined) throw new Error("the monitor names no primary before the fault");
    fault(`SIGKILL PostgreSQL primary ${primary} (keeper and server, under load)`);
    const pgKilledAt = Date.now();
    outstanding = true;
    await killDaemon(`pg-${primary}`, pgDataOf(primary));
    // Proof the fault took effect: the monitor hands the primary's part to the other node.
    let promoted: string | undefined;
    for (const deadline = Date.now() + 90_000; promoted === undefined || promoted === primary; await sleep(100)) {
      if (Date.now() > deadline) throw new Error(`the monitor did not fail ${primary} over within 90 s`);
      promoted = await primaryNode().catch(() => undefined);
    }
    for (const deadline = Date.now() + 90_000; ackedAfter(pgKilledAt) === undefined; await sleep(100))
      if (Date.now() > deadline) throw new Error("no spend acknowledged within 90 s of the primary's loss");
    const pgRecovered = Date.now() - pgKilledAt;
    fault(`spend acknowledged again (${promoted} promoted)`);
    recoveries.push({
      fault: `PostgreSQL primary (${primary}) SIGKILLed under load`,
      recoveredMs: pgRecovered,
      what: `first spend sent after the kill and acknowledged, on ${promoted}`,
    });
    await ensureEngines(); // the lost node's keeper back: it rejoins as the standby
    for (const deadline = Date.now() + 90_000; ; await sleep(500)) {
      const s = await pgStates().catch(() => []);
      if (s.some((n) => n.name === primary && n.reported === "secondary" && n.assigned === "secondary")) break;
      if (Date.now() > deadline) throw new Error(`the lost node did not rejoin: ${JSON.stringify(s)}`);
    }
    outstanding = false;
    fault(`${primary} rejoined as the synchronous standby`);

    // 2. One NATS server of three: the budget stream's leader, with a brand's day run out meanwhile.
    await sleep(3000);
    const leaderBefore = await streamLeader(engines, natsAdmin, STREAMS.budget.name);
    fault(`SIGKILL NATS server ${leaderBefore} (of three; it leads ${STREAMS.budget.name})`);
    outstanding = true;
    await killDaemon(`nats-${leaderBefore}`);
    const spentAt = Date.now();
    await settled(() =>
      clients.budget.recordSpend({
        eventId: "during-nats-node-loss",
        brandId: cast.outage.brandId,
        campaignId: cast.outage.campaignId,
        amountMicros: 2_000_000n,
      }),
    );
    const leaderAfter = await streamLeader(engines, natsAdmin, STREAMS.budget.name);
    let pausedMs = NaN;
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await sleep(100)) {
      const c = (await clients.campaigns.getCampaign({ id: cast.outage.campaignId }).catch(() => undefined))?.campaign;
      if (c?.pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED)) {
        pausedMs = Date.now() - spentAt;
        break;
      }
    }
    fault(
      `the run-out brand's campaign paused ${(pausedMs / 1000).toFixed(1)}s after its spend; ${STREAMS.budget.name} led by ${leaderAfter}, ${leaderBefore} still down`,
    );
    recoveries.push({
      fault: `NATS server ${leaderBefore} (of three, the budget stream's leader) SIGKILLed`,
      recoveredMs: pausedMs,
      what: "a spend that ran out its brand's day: its campaign paused, through the two servers left",
    });
    await sleep(plan.outageMs - (Date.now() - spentAt));
    await ensureEngines();
    outstanding = false;
    fault(`${leaderBefore} back`);

    // 3. The Temporal server across the local midnight (a daypart boundary and a budget reset).
    const untilShifted = async (at: number, what: string) => {
      if (now() > at)
        throw new Error(`the schedule ran late: ${what} was due ${now() - at} ms ago (raise midnightAfterMs)`);
      await sleep(at - now());
    };
    await untilShifted(midnight - plan.outageMs / 2, "the Temporal server's loss");
    fault(`SIGKILL the Temporal server for ${plan.outageMs / 1000}s across the local midnight`);
    outstanding = true;
    await killDaemon("temporal-server");
    if (await temporalAnswers(engines.TEMPORAL_ADDRESS ?? ""))
      throw new Error("the Temporal server answers after its kill");
    await sleep(plan.outageMs);
    const temporalStartedAt = Date.now();
    // Back from the moment its frontend accepts connections again (nothing can be served before;
    // a probe's call would answer later than the server's first work, as the worker's own polls
    // are waiting at the door): polled every 50 ms beside the restart's script.
    const frontendPort = Number((engines.TEMPORAL_ADDRESS ?? "").split(":").at(-1));
    const back = (async () => {
      while (!(await listening(frontendPort))) await sleep(50);
      return now();
    })();
    await ensureEngines();
    const temporalBackAt = await back;
    outstanding = false;
    fault(
      `the Temporal server back (accepting connections ${((temporalBackAt - clockOffsetMs - temporalStartedAt) / 1000).toFixed(1)}s after its restart began)`,
    );

    await sleep(15_000);
    await load.stop();
    fault(`load stopped: ${load.records.length} events`);

    const names = Object.fromEntries(SERVICE_NAMES.map((s) => [s, STREAMS[s].name])) as Record<ServiceName, string>;
    const { verdicts, convergedMs } = await systemInvariants(
      { clients, databases, streams: names, natsUrl: engines.NATS_URL ?? "", natsOptions: natsAdmin, now },
      cast,
      load.records,
      watchers,
    );
    const changes = (id: string, cause: string) =>
      stateChanges({ databases }, id, cause).then((c) => c.map((x) => x.at).filter((at) => at >= midnight));
    for (const [what, campaignId, cause] of [
      ["the daypart boundary at midnight, inside the Temporal server's loss", cast.midnightDaypart, "daypart"],
      ["the reset at midnight, inside the Temporal server's loss", cast.reset, "reset.day"],
    ] as const) {
      const applied = await changes(campaignId, cause);
      verdicts.push(heldBoundaryVerdict({ what, dueAt: midnight, backAt: temporalBackAt, applied }, 15_000));
      if (applied[0] !== undefined)
        recoveries.push({
          fault: `Temporal server SIGKILLed across midnight (${cause})`,
          recoveredMs: applied[0] - temporalBackAt,
          what: `${what}: applied after the server's return`,
        });
    }
    verdicts.push({
      name: "no call answered INTERNAL or UNKNOWN",
      ok: load.internal.length === 0,
      figures: `${load.records.length} events sent`,
      problems: load.internal.slice(0, 20),
    });
    verdicts.push({
      name: "the PostgreSQL primary's loss: the standby promoted, spend acknowledged again within 30 s",
      ok: pgRecovered <= 30_000 && promoted !== primary,
      figures: `${primary} lost, ${promoted} promoted, spend acknowledged ${(pgRecovered / 1000).toFixed(1)}s after`,
      problems: pgRecovered <= 30_000 ? [] : [`${pgRecovered} ms`],
    });
    verdicts.push({
      name: "the budget stream's leader lost: another server leads it",
      ok: leaderAfter !== leaderBefore,
      figures: `${leaderBefore} -> ${leaderAfter}`,
      problems: leaderAfter !== leaderBefore ? [] : [`still led by ${leaderBefore}`],
    });
    verdicts.push({
      name: "a brand's day run out with a NATS server down pauses its campaign",
      ok: pausedMs <= 15_000,
      figures: `paused ${(pausedMs / 1000).toFixed(1)}s after the spend`,
      problems: pausedMs <= 15_000 ? [] : [`paused ${pausedMs} ms after the spend`],
    });
    return {
      report: { plan, verdicts, faults, load, convergedMs, ok: verdicts.every((v) => v.ok) },
      recoveries,
    };
  } finally {
    process.off("SIGINT", interrupted);
    process.off("SIGTERM", interrupted);
    await load?.stop();
    for (const w of watchers) await w.stop();
    await system.stop();
    for (const b of balancers) await b.close();
    // A fault the run did not undo (it failed in between): its engine is brought back.
    if (outstanding)
      await ensureEngines().catch((err: unknown) => log(`[chaos] the engines did not come back: ${String(err)}`));
  }
}

/** Whether the Temporal frontend at `address` answers a request now (not only accepts connections). */
async function temporalAnswers(address: string): Promise<boolean> {
  try {
    const c = await Connection.connect({ address, connectTimeout: 500 });
    try {
      // A deadline of its own: a server still starting holds a call, and the probe's answer is
      // the time of its return (a late answer would make the clocks look early).
      await c.withDeadline(Date.now() + 500, () => c.workflowService.getSystemInfo({}));
      return true;
    } finally {
      await c.close();
    }
  } catch {
    return false;
  }
}

/** The server leading `stream` now. */
async function streamLeader(engines: EngineSettings, admin: NatsAdmin, stream: string): Promise<string> {
  const nc = await connect({ servers: natsServers(engines.NATS_URL ?? ""), ...admin });
  try {
    for (const deadline = Date.now() + 30_000; ; await sleep(250)) {
      // Right after a server's loss JetStream may not answer for a moment (its meta leader, or the
      // stream's, is being elected again): asked again until the deadline.
      const leader = await jetstreamManager(nc, { timeout: 2000 })
        .then((jsm) => jsm.streams.info(stream))
        .then((info) => info.cluster?.leader)
        .catch(() => undefined);
      if (leader) return leader;
      if (Date.now() > deadline) throw new Error(`${stream} has no leader within 30 s`);
    }
  } finally {
    await nc.close();
  }
}

/** Whether something accepts connections on 127.0.0.1:`port`. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Deletes the topology's streams (the run is alone on these engines; earlier runs' events go). */
async function emptyStreams(engines: EngineSettings, admin: NatsAdmin) {
  const nc = await connect({ servers: natsServers(engines.NATS_URL ?? ""), ...admin });
  try {
    const jsm = await jetstreamManager(nc);
    for (const s of SERVICE_NAMES)
      await jsm.streams.delete(STREAMS[s].name).catch((err: unknown) => {
        if (!(err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound)) throw err;
      });
  } finally {
    await nc.close();
  }
}
