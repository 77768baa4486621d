/**
 * The production configuration, run (issue 22, item 5; NATS users since issue 12): the services
 * and the clocks worker, each with its own NATS user, against a nats-server of this test alone
 * whose authorization is the one `natsAuthorization` derives from the topology
 * (deploy/local/nats-auth.conf, for this test's prefix and streams); mutual TLS between every
 * workload (TLS_CLIENT_AUTH=require, the certificates of scripts/dev-certs.sh); each workload's
 * identity signed by a key of its own, registered for its role alone (createTestAuth). Every RPC
 * of every server answers every role its rule names, each caller with its own key and client
 * certificate; the whole system does its work (spend runs a budget out, the campaign service
 * pauses the campaigns from the budget events and WatchCampaigns shows it, alerts reach
 * WatchBudgetAlerts, the brand archive reaches the campaign service, the clocks worker starts
 * its workflows from brand and campaign events, every declared consumer acks its stream); and no
 * workload can publish another's events, read what it must not read, or administer JetStream
 * beyond its own stream and consumers.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AckPolicy, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, nkeys, PermissionViolationError, type NatsConnection } from "@nats-io/transport-node";
import {
  allowedRoles,
  ANY_CREDENTIAL_SERVICES,
  bearerInterceptor,
  clientTls,
  createLogger,
  DEFAULT_ISSUER,
  DurableConsumer,
  ensureStream,
  EnvReader,
  mintToken,
  PUBLIC_SERVICES,
  readNatsAuth,
  type TokenClaims,
} from "@adbudget/kit";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { WatchEventType } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import {
  ACCESS,
  natsAuthorization,
  natsWorkloadPermissions,
  readSystemTopology,
  type DurableSpec,
  type SystemTopology,
  type Workload as NatsWorkload,
} from "@adbudget/topology";
import { daypartWorkflowId, resetWorkflowId } from "@adbudget/workflows";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { DayOfWeek } from "@adbudget/proto/google/type/dayofweek_pb.js";
import { eventually } from "./calls.js";
import { startClocks, type ClocksHarness } from "./clocks.js";
import { natsOperator } from "./nats-jwt.js";
import { callMethod, sampleRequest, sampleResources } from "./sample-requests.js";
import { announcedServices, PRODUCT_SERVICES, SERVABLE_SERVICES } from "./served-services.js";
import { startNatsServer, type NatsServerProcess } from "./nats-server.js";
import { watchCampaigns } from "./test-steps.js";
import { TEST_AUDIENCE } from "./auth.js";

const DEV_CERTS = fileURLToPath(new URL("../../../scripts/dev-certs.sh", import.meta.url));

const tag = `na${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
const TAG = tag.toUpperCase();
/** The names startSystemInProcess gives a system with this tag; the durable consumers keep their defaults. */
const system: SystemTopology = readSystemTopology(
  new EnvReader({
    EVENT_SUBJECT_PREFIX: tag,
    BRAND_STREAM: `${TAG}_BRAND`,
    BUDGET_STREAM: `${TAG}_BUDGET`,
    CAMPAIGN_STREAM: `${TAG}_CAMPAIGN`,
  }),
);
/** The stream and durable names the test refers to. */
const topology = {
  streams: {
    brand: system.streams.brand.name,
    budget: system.streams.budget.name,
    campaign: system.streams.campaign.name,
  },
  consumers: {
    campaignBudget: system.consumers.campaign["budget-events"].durable,
    clocksBrand: system.consumers.clocks["brand-events"].durable,
  },
};
const password = () => randomBytes(12).toString("hex");
const passwords = { brand: password(), budget: password(), campaign: password(), admin: password() };
/** The clocks worker authenticates with an nkey (NATS_NKEY_SEED_FILE), the services with passwords. */
const clocksKey = nkeys.createUser();

let dir: string;
let server: NatsServerProcess;
let h: ClocksHarness;
/** What each workload's process is given, as a deployment would (the worker: a seed file). */
let workloadEnv: Record<NatsWorkload, Record<string, string>>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "adbudget-nats-auth-"));
  const seedFile = join(dir, "clocks.nk");
  await writeFile(seedFile, `${new TextDecoder().decode(clocksKey.getSeed())}\n`, { mode: 0o600 });
  execFileSync("bash", [DEV_CERTS, join(dir, "tls")], { stdio: "pipe" });
  workloadEnv = {
    brand: { NATS_USER: "brand", NATS_PASSWORD: passwords.brand },
    budget: { NATS_USER: "budget", NATS_PASSWORD: passwords.budget },
    campaign: { NATS_USER: "campaign", NATS_PASSWORD: passwords.campaign },
    clocks: { NATS_NKEY_SEED_FILE: seedFile },
  };
  server = await startNatsServer({
    monitor: true,
    config: natsAuthorization({
      topology: system,
      users: {
        brand: { password: passwords.brand },
        budget: { password: passwords.budget },
        campaign: { password: passwords.campaign },
        clocks: { nkey: clocksKey.getPublicKey() },
      },
      extraUsers: [
        {
          user: "admin",
          password: passwords.admin,
          description: "the test harness",
          permissions: { publish: [">"], subscribe: [">"] },
        },
      ],
    }),
  });
  h = await startClocks({
    system: {
      tag,
      env: { NATS_URL: server.url },
      brandEnv: workloadEnv.brand,
      budgetEnv: workloadEnv.budget,
      campaignEnv: workloadEnv.campaign,
      natsConnect: { user: "admin", pass: passwords.admin },
      tlsDir: join(dir, "tls"),
    },
    // No reconciliation: the clocks' workflows below can only have been started from the events.
    workerEnv: { NATS_URL: server.url, ...workloadEnv.clocks, RECONCILE_INTERVAL_MS: "0" },
  });
}, 180_000);

afterAll(async () => {
  await h?.close();
  await server?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** A connection as `workload`, with the credentials and inbox prefix the kit derives from its settings. */
async function connectAs(workload: NatsWorkload): Promise<NatsConnection> {
  const reader = new EnvReader(workloadEnv[workload]);
  const auth = readNatsAuth(reader, workload);
  reader.done();
  return connect({ servers: server.url, name: `test-as-${workload}`, ...auth });
}

/** The permission violation a refused operation failed with (in the error or its causes). */
async function violation(op: Promise<unknown>): Promise<{ operation: string; subject: string }> {
  try {
    await op;
  } catch (err) {
    for (let e: unknown = err; e instanceof Error; e = e.cause) {
      if (e instanceof PermissionViolationError) return { operation: e.operation, subject: e.subject };
    }
    throw err;
  }
  throw new Error("expected a permissions violation, the operation succeeded");
}

/** The permission violation that closed a subscription (it never receives anything). */
async function refusedSubscription(
  nc: NatsConnection,
  subject: string,
): Promise<{ operation: string; subject: string }> {
  const sub = nc.subscribe(subject);
  const closed = await Promise.race([sub.closed, new Promise<string>((r) => setTimeout(() => r("still open"), 5000))]);
  if (!(closed instanceof PermissionViolationError))
    throw new Error(`subscription to ${subject} was not refused (${String(closed)})`);
  return { operation: closed.operation, subject: closed.subject };
}

/** `Publish|Subscription Violation` lines of the server's log, as "user operation subject" (the nkey user: "clocks"). */
function loggedViolations(): string[] {
  return [
    ...server.output().matchAll(/(Publish|Subscription) Violation - (?:User|Nkey) "([^"]+)", Subject "([^"]+)"/g),
  ].map((m) => `${m[2] === clocksKey.getPublicKey() ? "clocks" : m[2]} ${m[1]} ${m[3]}`);
}

const ALL_DAYS = [1, 2, 3, 4, 5, 6, 7] as DayOfWeek[];

describe("mutual TLS and workload keys bound to their identities", () => {
  /** GetBrand on the brand service with `claims` signed by `workload`'s own key, over a connection with `cert`'s certificate. */
  async function getBrandAs(workload: "budget" | "campaign", claims: TokenClaims, cert?: string): Promise<string> {
    const jwk: unknown = JSON.parse(readFileSync(h.system.auth.envOf(workload).AUTH_PRIVATE_KEY_FILE, "utf8"));
    if (typeof jwk !== "object" || jwk === null) throw new Error("no key");
    const token = await mintToken(jwk, claims, { audience: TEST_AUDIENCE, issuer: DEFAULT_ISSUER, ttlSeconds: 600 });
    const tls = join(dir, "tls");
    const url = h.system.brandApp.server.url;
    const transport = createGrpcTransport({
      baseUrl: url,
      interceptors: [bearerInterceptor(token)],
      ...clientTls(url, {
        tlsCaFile: join(tls, "ca.pem"),
        tlsClientCertFile: cert === undefined ? "" : join(tls, `${cert}.pem`),
        tlsClientKeyFile: cert === undefined ? "" : join(tls, `${cert}-key.pem`),
      }),
    });
    try {
      await createClient(BrandService, transport).getBrand({ id: "0b6a4c3e-8d7f-4a51-9a43-3f3e2c1d0b9a" });
      return "ok";
    } catch (err) {
      const e = ConnectError.from(err);
      // NOT_FOUND: let in, and the (made-up) brand is not there.
      return e.code === Code.NotFound ? "ok" : `${Code[e.code]}: ${e.rawMessage}`;
    }
  }

  it("every workload serves TLS and asks callers for a certificate; the harness's calls above carry the operator's", async () => {
    for (const app of [h.system.brandApp, h.system.budgetApp, h.system.campaignApp])
      expect(app.server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await getBrandAs("budget", { sub: "service:budget", role: "budget-service" }, undefined)).toMatch(
      /certificate required/,
    );
  });

  it("a workload's key signs its own identity, with its certificate, and nothing else", async () => {
    const identity = { sub: "service:budget", role: "budget-service" };
    expect(await getBrandAs("budget", identity, "budget")).toBe("ok");
    // Its token on another workload's connection, or an operator's: a stolen token alone is nothing.
    expect(await getBrandAs("budget", identity, "campaign")).toBe(
      'Unauthenticated: a budget-service token must arrive with the client certificate of budget (mutual TLS), not "campaign"',
    );
    // Its key minting another role: the brand of every caller, before, with one leaked key.
    expect(await getBrandAs("budget", { sub: "x", role: "admin" }, "operator")).toMatch(
      /^Unauthenticated: the key "budget-[a-z0-9]+" is not registered to sign admin tokens/,
    );
    expect(await getBrandAs("campaign", { sub: "x", role: "budget-service" }, "budget")).toMatch(
      /^Unauthenticated: the key "campaign-[a-z0-9]+" is not registered to sign budget-service tokens/,
    );
  });
});

describe("every RPC, in the production configuration", () => {
  /** What the server at `url` serves: what it lists to any role, each with its own key and certificate. */
  const announced = (url: string) =>
    announcedServices(async (claims) => h.system.transportFor(claims.role, url, await h.system.auth.as(claims)));

  it("each RPC of each server answers every role its rule names, each identity with its own key and certificate", async () => {
    const s = h.system;
    const calls: { url: string; service: DescService; method: DescMethod; role: string }[] = [];
    const rpcs: string[] = [];
    for (const url of [s.brandApp.server.url, s.budgetApp.server.url, s.campaignApp.server.url]) {
      const names = await announced(url);
      expect(names.filter((name) => !SERVABLE_SERVICES.has(name))).toEqual([]);
      for (const service of names.flatMap((name) => SERVABLE_SERVICES.get(name) ?? [])) {
        if (PUBLIC_SERVICES.has(service.typeName) || ANY_CREDENTIAL_SERVICES.has(service.typeName)) continue;
        for (const method of service.methods) {
          rpcs.push(`${service.typeName}/${method.name}`);
          for (const role of allowedRoles(method)) calls.push({ url, service, method, role });
        }
      }
    }
    // Every RPC of the product, on the one server that serves it.
    const declared = PRODUCT_SERVICES.flatMap((service) => service.methods.map((m) => `${service.typeName}/${m.name}`));
    expect(rpcs.toSorted()).toEqual(declared.toSorted());

    /**
     * Calls that end what they are given (an archived brand, a deleted campaign, a locked zone)
     * get a brand and campaign of their own; the others share one. Each new brand and campaign
     * also starts the clocks' workflows: a brand per call made this test a minute long.
     */
    const ENDING = new Set(["ArchiveBrand", "DeleteCampaign", "LockBrandTimeZone"]);
    const shared = await sampleResources(s, "every rpc");
    const answer = async ({ url, service, method, role }: (typeof calls)[number]): Promise<string> => {
      const r = ENDING.has(method.name) ? await sampleResources(s, "every rpc, ending") : shared;
      // A role scoped to brands names the request's: the call is let in on its scope.
      const claims =
        ACCESS.roles[role] === "all"
          ? { sub: `prod:${role}`, role }
          : { sub: `prod:${role}`, role, brands: [r.brandId] };
      const code = await callMethod(
        service,
        method,
        s.transportFor(role, url, await s.auth.as(claims)),
        sampleRequest(method, r, s.now()),
      );
      return `${role} ${service.typeName}/${method.name}: ${code === "OK" ? "OK" : Code[code]}`;
    };
    // The calls on the shared resources eight at a time, then the ending ones.
    const answers: string[] = [];
    const sharing = calls.filter((c) => !ENDING.has(c.method.name));
    for (let i = 0; i < sharing.length; i += 8)
      answers.push(...(await Promise.all(sharing.slice(i, i + 8).map(answer))));
    answers.push(...(await Promise.all(calls.filter((c) => ENDING.has(c.method.name)).map(answer))));
    // Each is a valid request on the caller's own brand: every call is let in and done.
    expect(answers.filter((a) => !a.endsWith(": OK"))).toEqual([]);
    // And every RPC was called (an RPC no role may call would be skipped above).
    expect(rpcs.filter((rpc) => !calls.some((c) => `${c.service.typeName}/${c.method.name}` === rpc))).toEqual([]);
  }, 120_000);

  it("the probes answer without a token, over mutual TLS", async () => {
    for (const url of [h.system.brandApp.server.url, h.system.budgetApp.server.url, h.system.campaignApp.server.url]) {
      const health = createClient(Health, h.system.transportFor("viewer", url, []));
      expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    }
  });
});

describe("NATS with one user per workload", () => {
  it("each workload does its own work under its own user: spend pauses the campaigns through the events, the clocks follow brands and campaigns", async () => {
    const s = h.system;
    const { brand } = await s.brands.createBrand({ name: `NATS auth ${tag}`, timeZone: "America/New_York" });
    const brandId = brand!.id;
    await s.budget.setBudget({ brandId, dailyLimitMicros: 10_000_000n });
    const { campaign: always } = await s.campaigns.createCampaign({ brandId, name: "Always" });
    const { campaign: office } = await s.campaigns.createCampaign({
      brandId,
      name: "Office hours",
      schedule: { timeZone: "UTC", windows: [{ daysOfWeek: ALL_DAYS, start: "00:00", end: "24:00" }] },
    });

    // WatchCampaigns: the campaign service's core subscription to its own events.
    const w = watchCampaigns(s.campaigns, brandId);
    await eventually(async () => w.seen.some((m) => m.type === WatchEventType.SNAPSHOT_COMPLETE), 10_000, "snapshot");

    // Budget (its relay publishes budget.exhausted) -> campaign (its durable consumer) -> pause.
    await s.budget.recordSpend({ eventId: `${tag}-1`, brandId, campaignId: always!.id, amountMicros: 6_000_000n });
    const spent = await s.budget.recordSpend({
      eventId: `${tag}-2`,
      brandId,
      campaignId: office!.id,
      amountMicros: 5_000_000n,
    });
    expect(spent.status?.day?.exhausted).toBe(true);
    await eventually(
      async () => {
        const { campaigns } = await s.campaigns.listCampaigns({ brandId });
        return (
          campaigns.length === 2 &&
          campaigns.every((c) => !c.serving && c.pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED))
        );
      },
      20_000,
      "campaigns paused by the budget event",
    );
    // Campaign (its relay publishes campaign.state) -> the watch stream.
    await eventually(
      async () =>
        w.seen.filter((m) => m.type === WatchEventType.CHANGED && m.change?.cause === "budget.exhausted").length === 2,
      10_000,
      "watch shows the pauses",
    );
    await w.stop();

    // Brand (its relay publishes brand.changed) -> campaign (its other durable consumer).
    await s.brands.archiveBrand({ id: brandId });
    await eventually(
      async () => {
        const { campaigns } = await s.campaigns.listCampaigns({ brandId });
        return campaigns.every((c) => c.pauseReasons.includes(PauseReason.BRAND_ARCHIVED));
      },
      20_000,
      "campaigns paused by the brand archive",
    );

    // Clocks: started from the brand event (budget-reset) and the campaign event (daypart).
    const started = (id: string) =>
      h.worker.client.workflow
        .getHandle(id)
        .describe()
        .then(
          () => true,
          () => false,
        );
    await eventually(
      () => started(resetWorkflowId(brandId)),
      20_000,
      "budget-reset workflow started from brand.changed",
    );
    await eventually(
      () => started(daypartWorkflowId(office!.id)),
      20_000,
      "campaign-daypart workflow started from campaign.state",
    );

    // Every durable consumer the topology declares pulled and acked everything of its stream,
    // under its workload's user (a consumer added to the topology is held to it here).
    const jsm = await jetstreamManager(s.nc);
    const consumers = Object.values(system.consumers).flatMap((byName) =>
      Object.values<DurableSpec>(byName).map((c) => [c.stream, c.durable] as const),
    );
    expect(consumers.length).toBeGreaterThanOrEqual(4);
    await eventually(
      async () => {
        for (const [stream, durable] of consumers) {
          const info = await jsm.consumers.info(stream, durable);
          if (info.num_pending !== 0 || info.num_ack_pending !== 0 || info.ack_floor.stream_seq === 0) return false;
        }
        return true;
      },
      20_000,
      "every consumer acked its stream",
    );
    for (const stream of Object.values(topology.streams))
      expect((await jsm.streams.info(stream)).state.messages).toBeGreaterThan(0);

    // Who is who: each process's connection is its own user (the monitoring endpoint says so).
    const connz = (await (await fetch(`${server.monitorUrl}/connz?auth=true`)).json()) as {
      connections: { name?: string; authorized_user?: string }[];
    };
    const users = Object.fromEntries(
      connz.connections.filter((c) => c.name?.startsWith("adbudget-")).map((c) => [c.name, c.authorized_user]),
    );
    expect(users).toEqual({
      "adbudget-brand": "brand",
      "adbudget-budget": "budget",
      "adbudget-campaign": "campaign",
      "adbudget-clocks": clocksKey.getPublicKey(),
    });

    // Nothing the system does is refused, except what the rules mean to refuse: a consumer that
    // starts before the owner of its stream may not create it (it retries until the owner did;
    // here the campaign service starts before the budget service).
    const waits = [
      `campaign Publish $JS.API.STREAM.CREATE.${topology.streams.budget}`,
      `campaign Publish $JS.API.STREAM.CREATE.${topology.streams.brand}`,
      `clocks Publish $JS.API.STREAM.CREATE.${topology.streams.brand}`,
      `clocks Publish $JS.API.STREAM.CREATE.${topology.streams.campaign}`,
    ];
    expect(loggedViolations().filter((line) => !waits.includes(line))).toEqual([]);
  });

  it("WatchBudgetAlerts hears its brand's alerts: the budget service's core subscription to its own events", async () => {
    const s = h.system;
    const { brand } = await s.brands.createBrand({ name: `NATS alerts ${tag}`, timeZone: "America/New_York" });
    const brandId = brand!.id;
    await s.budget.setBudget({ brandId, dailyLimitMicros: 10_000_000n, alerts: { percents: [50] } });
    const { campaign } = await s.campaigns.createCampaign({ brandId, name: "Alerted" });
    const abort = new AbortController();
    let subscribed = false;
    const heard: number[] = [];
    const watching = (async () => {
      for await (const m of s.budget.watchBudgetAlerts({ brandId }, { signal: abort.signal })) {
        if (m.subscribed) subscribed = true;
        else heard.push(m.alert?.percent ?? 0);
      }
    })().catch(() => undefined);
    await eventually(async () => subscribed, 10_000, "the alert stream is subscribed");
    await s.budget.recordSpend({
      eventId: `${tag}-alert`,
      brandId,
      campaignId: campaign!.id,
      amountMicros: 6_000_000n,
    });
    await eventually(async () => heard.length === 1, 10_000, "the watcher heard the 50% alert");
    expect(heard).toEqual([50]);
    abort.abort();
    await watching;
    expect(loggedViolations().filter((line) => line.startsWith("budget Subscription"))).toEqual([]);
  });

  it("a workload cannot publish another workload's events", async () => {
    const jsm = await jetstreamManager(h.system.nc);
    const before = await Promise.all(
      Object.values(topology.streams).map(async (s) => (await jsm.streams.info(s)).state.messages),
    );
    const forged: [NatsWorkload, string][] = [
      ["budget", `${tag}.campaign.state.x`],
      ["budget", `${tag}.brand.changed.x`],
      ["brand", `${tag}.budget.exhausted.x`],
      ["campaign", `${tag}.budget.exhausted.x`],
      ["campaign", `${tag}.budget.replenished.x`],
      ["clocks", `${tag}.campaign.state.x`],
      ["clocks", `${tag}.brand.changed.x`],
    ];
    for (const [workload, subject] of forged) {
      const nc = await connectAs(workload);
      try {
        expect(
          await violation(jetstream(nc).publish(subject, new Uint8Array([1]), { timeout: 5000 })),
          `${workload} -> ${subject}`,
        ).toEqual({ operation: "publish", subject });
      } finally {
        await nc.close();
      }
    }
    const after = await Promise.all(
      Object.values(topology.streams).map(async (s) => (await jsm.streams.info(s)).state.messages),
    );
    expect(after).toEqual(before);
    // The server logged each refusal with the user (what the first test reads its log for).
    await eventually(
      async () => {
        const logged = loggedViolations();
        return (
          logged.includes(`budget Publish ${tag}.campaign.state.x`) &&
          logged.includes(`clocks Publish ${tag}.brand.changed.x`)
        );
      },
      5000,
      "the refusals in the server's log",
    );

    // The same users publish their own events (what the relays do).
    const budget = await connectAs("budget");
    expect(
      (await jetstream(budget).publish(`${tag}.budget.exhausted.own`, new Uint8Array([1]), { timeout: 5000 })).stream,
    ).toBe(topology.streams.budget);
    await budget.close();
  });

  it("a workload cannot subscribe to what it must not read: other workloads' events, their replies and deliveries", async () => {
    const refused: [NatsWorkload, string][] = [
      ["budget", `${tag}.campaign.state.>`],
      ["budget", ">"],
      ["brand", `${tag}.budget.>`],
      ["campaign", `${tag}.budget.>`],
      ["campaign", `${tag}.brand.>`],
      ["clocks", `${tag}.brand.>`],
      ["clocks", `${tag}.campaign.state.>`],
      // Inboxes: JetStream API answers and pulled messages travel there.
      ["brand", "_INBOX.>"],
      ["brand", "_INBOX.campaign.>"],
      ["campaign", "_INBOX.clocks.>"],
    ];
    for (const [workload, subject] of refused) {
      const nc = await connectAs(workload);
      try {
        expect(await refusedSubscription(nc, subject), `${workload} subscribing ${subject}`).toEqual({
          operation: "subscription",
          subject,
        });
      } finally {
        await nc.close();
      }
    }
  });

  it("a workload cannot administer JetStream beyond its own stream and consumers", async () => {
    const { streams, consumers } = topology;
    const campaign = await connectAs("campaign");
    const budget = await connectAs("budget");
    const brand = await connectAs("brand");
    try {
      const campaignJsm = await jetstreamManager(campaign);
      const budgetJsm = await jetstreamManager(budget);
      const brandJsm = await jetstreamManager(brand);
      // Read through another workload's durable consumer, or make a consumer of its own elsewhere.
      expect((await violation(jetstream(campaign).consumers.get(streams.brand, consumers.clocksBrand))).subject).toBe(
        `$JS.API.CONSUMER.INFO.${streams.brand}.${consumers.clocksBrand}`,
      );
      expect(
        (
          await violation(
            budgetJsm.consumers.add(streams.campaign, {
              durable_name: "spy",
              ack_policy: AckPolicy.Explicit,
              filter_subject: `${tag}.campaign.>`,
            }),
          )
        ).subject,
      ).toBe(`$JS.API.CONSUMER.CREATE.${streams.campaign}.spy.${tag}.campaign.>`);
      expect(
        (
          await violation(
            campaignJsm.consumers.add(streams.budget, {
              durable_name: "other",
              ack_policy: AckPolicy.Explicit,
              filter_subject: `${tag}.budget.>`,
            }),
          )
        ).subject,
      ).toBe(`$JS.API.CONSUMER.CREATE.${streams.budget}.other.${tag}.budget.>`);
      // Delete or purge streams (even its own), delete consumers, create other streams.
      expect((await violation(campaignJsm.streams.delete(streams.budget))).subject).toBe(
        `$JS.API.STREAM.DELETE.${streams.budget}`,
      );
      expect((await violation(campaignJsm.streams.purge(streams.campaign))).subject).toBe(
        `$JS.API.STREAM.PURGE.${streams.campaign}`,
      );
      expect((await violation(campaignJsm.consumers.delete(streams.budget, consumers.campaignBudget))).subject).toBe(
        `$JS.API.CONSUMER.DELETE.${streams.budget}.${consumers.campaignBudget}`,
      );
      expect(
        (await violation(brandJsm.streams.add({ name: `${TAG}_OTHER`, subjects: [`${tag}.other.>`] }))).subject,
      ).toBe(`$JS.API.STREAM.CREATE.${TAG}_OTHER`);
      expect((await violation(brandJsm.streams.info(streams.campaign))).subject).toBe(
        `$JS.API.STREAM.INFO.${streams.campaign}`,
      );
    } finally {
      await Promise.all([campaign.close(), budget.close(), brand.close()]);
    }
  });

  it("no credentials, a wrong password or an unknown nkey cannot connect", async () => {
    const refused = async (options: Parameters<typeof connect>[0]) => {
      const err = await connect({ servers: server.url, maxReconnectAttempts: 0, ...options }).then(
        async (nc) => {
          await nc.close();
          return undefined;
        },
        (e: Error) => e,
      );
      expect(err?.message).toMatch(/authorization violation/i);
    };
    await refused({});
    await refused({ user: "budget", pass: passwords.brand });
    const stranger = join(dir, "stranger.nk");
    await writeFile(stranger, nkeys.createUser().getSeed());
    const reader = new EnvReader({ NATS_NKEY_SEED_FILE: stranger });
    await refused(readNatsAuth(reader, "clocks"));
  });
});

describe("NATS_CREDS_FILE: decentralized auth, the same permissions in user JWTs", () => {
  const operator = natsOperator();
  let opServer: NatsServerProcess;
  beforeAll(async () => {
    opServer = await startNatsServer({ config: operator.config });
  });
  afterAll(async () => {
    await opServer?.stop();
  });

  /** A workload connected as the kit connects it with NATS_CREDS_FILE (a .creds file issued for it). */
  async function connectWithCreds(workload: NatsWorkload): Promise<NatsConnection> {
    const path = join(dir, `${workload}.creds`);
    await writeFile(path, operator.creds(workload, natsWorkloadPermissions(workload, system)), { mode: 0o600 });
    const reader = new EnvReader({ NATS_CREDS_FILE: path });
    const auth = readNatsAuth(reader, workload);
    reader.done();
    return connect({ servers: opServer.url, name: `creds-${workload}`, ...auth });
  }

  it("the budget relay's publishing and the campaign service's durable consumer work; others' subjects are refused", async () => {
    const { streams, consumers } = topology;
    const budget = await connectWithCreds("budget");
    const campaign = await connectWithCreds("campaign");
    try {
      // What the budget service's outbox relay does: its stream if missing, its event by JetStream.
      await ensureStream(budget, { name: streams.budget, subjects: [`${tag}.budget.>`], replicas: 1 });
      const ack = await jetstream(budget).publish(`${tag}.budget.exhausted.b1`, new Uint8Array([1]), {
        msgID: "e1",
        timeout: 5000,
      });
      expect(ack).toMatchObject({ stream: streams.budget, seq: 1 });
      // What the campaign service's consumer does: its durable consumer, pulled and acked.
      const got: string[] = [];
      const consumer = new DurableConsumer(campaign, {
        stream: streams.budget,
        streamSubjects: [`${tag}.budget.>`],
        streamReplicas: 1,
        durable: consumers.campaignBudget,
        filterSubject: `${tag}.budget.>`,
        handle: async (msg) => void got.push(msg.subject),
        logger: createLogger("creds-test", "silent"),
      });
      consumer.start();
      await eventually(async () => got.length === 1, 10_000, "the event consumed");
      await consumer.stop();
      expect(got).toEqual([`${tag}.budget.exhausted.b1`]);
      await eventually(
        async () => {
          const info = await (
            await jetstreamManager(campaign)
          ).consumers.info(streams.budget, consumers.campaignBudget);
          return info.ack_floor.stream_seq === 1 && info.num_ack_pending === 0;
        },
        5000,
        "the ack",
      );
      // And the refusals of the server-config users hold for JWT users as well.
      expect(
        await violation(jetstream(budget).publish(`${tag}.campaign.state.x`, new Uint8Array([1]), { timeout: 5000 })),
      ).toEqual({
        operation: "publish",
        subject: `${tag}.campaign.state.x`,
      });
      expect(
        await violation(
          jetstream(campaign).publish(`${tag}.budget.exhausted.b1`, new Uint8Array([1]), { timeout: 5000 }),
        ),
      ).toEqual({
        operation: "publish",
        subject: `${tag}.budget.exhausted.b1`,
      });
      expect(await refusedSubscription(campaign, `${tag}.budget.>`)).toEqual({
        operation: "subscription",
        subject: `${tag}.budget.>`,
      });
      expect(await refusedSubscription(budget, "_INBOX.campaign.>")).toEqual({
        operation: "subscription",
        subject: "_INBOX.campaign.>",
      });
    } finally {
      await Promise.all([budget.close(), campaign.close()]);
    }
  });
});
