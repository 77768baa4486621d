import { randomBytes } from "node:crypto";
import { fromBinary } from "@bufbuild/protobuf";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createLogger, natsServers } from "@adbudget/kit";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { startTcpProxy, type TcpProxy } from "./tcp-proxy.js";
import { quietClockOffset } from "./test-clock.js";
import { startBrandApp, readBrandConfig, type BrandApp } from "@adbudget/brand-service";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import {
  BudgetPeriodEventSchema,
  BudgetThresholdEventSchema,
  CampaignCapEventSchema,
  type BudgetPeriodEvent,
  type BudgetThresholdEvent,
  type CampaignCapEvent,
} from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { readBudgetConfig, startBudgetApp, type BudgetApp } from "@adbudget/budget-service";

import { createTestAuth, type TestAuth } from "./auth.js";
import { NATS_URL } from "./nats.js";

/** Subjects of budget period events (the stream also carries threshold alerts and campaign cap events). */
const PERIOD_SUBJECT = /\.budget\.(exhausted|replenished)\.[^.]+$/;

export interface BudgetHarness {
  /** The system's keys: `auth.mint(...)` / `auth.as(...)` for callers of other roles. */
  auth: TestAuth;
  brandApp: BrandApp;
  budgetApp: BudgetApp;
  brands: Client<typeof BrandService>;
  budget: Client<typeof BudgetService>;
  /** This test's subject prefix and stream: nothing else publishes there. */
  prefix: string;
  stream: string;
  /** The budget service's database, for checks against the ledger itself. */
  budgetDbUrl: string;
  /** The proxy between the budget service and NATS, when asked for. */
  natsProxy?: TcpProxy;
  nc: NatsConnection;
  /** Every budget period event (exhausted, replenished) published so far on this test's stream. */
  events(): Promise<{ subject: string; event: BudgetPeriodEvent; msgId: string }[]>;
  /** Every threshold alert published so far on this test's stream. */
  alerts(): Promise<{ subject: string; event: BudgetThresholdEvent; msgId: string }[]>;
  /** Every campaign cap event published so far on this test's stream. */
  caps(): Promise<{ subject: string; event: CampaignCapEvent; msgId: string }[]>;
  /** The services' "now" (their CLOCK_OFFSET_MS applied): what tests derive dates from. */
  now(): number;
  /** Waits until the outbox is empty. */
  drained(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/**
 * A brand service and a budget service, each with its own fresh database, wired as in
 * production (the budget service reads brands through BrandService, publishes to NATS) under a
 * subject prefix and stream of this test alone.
 */
export async function startBudgetHarness(
  options: { natsProxy?: boolean; env?: Record<string, string> } = {},
): Promise<BudgetHarness> {
  // A quiet clock (the next local noon) unless the test brings its own.
  const clockOffset = options.env?.CLOCK_OFFSET_MS ?? String(quietClockOffset());
  const auth = await createTestAuth();
  const tag = `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const prefix = tag;
  const stream = `${tag.toUpperCase()}_BUDGET`;
  const dbs: TestDatabase[] = [await createTestDatabase(), await createTestDatabase()];
  const silent = createLogger("test", process.env.TEST_LOG_LEVEL ?? "silent");
  const brandApp = await startBrandApp(
    readBrandConfig({
      BRAND_HOST: "127.0.0.1",
      BRAND_METRICS_PORT: "0",
      BRAND_PORT: "0",
      BRAND_DATABASE_URL: dbs[0].url,
      SHUTDOWN_GRACE_MS: "500",
      NATS_URL,
      EVENT_SUBJECT_PREFIX: tag,
      BRAND_STREAM: `${tag.toUpperCase()}_BRAND`,
      BUDGET_SERVICE_URL: "none",
      CLOCK_OFFSET_MS: clockOffset,
      ...auth.envOf("brand"),
      QUOTAS: "off",
    }),
    { logger: silent },
  );
  const nats = new URL(NATS_URL.replace(/^nats:/, "http:"));
  const natsProxy = options.natsProxy ? await startTcpProxy(nats.hostname, Number(nats.port || 4222)) : undefined;
  const budgetApp = await startBudgetApp(
    readBudgetConfig({
      BUDGET_HOST: "127.0.0.1",
      BUDGET_METRICS_PORT: "0",
      BUDGET_PORT: "0",
      BUDGET_DATABASE_URL: dbs[1].url,
      BRAND_SERVICE_URL: brandApp.server.url,
      NATS_URL: natsProxy ? `nats://127.0.0.1:${natsProxy.port}` : NATS_URL,
      EVENT_SUBJECT_PREFIX: prefix,
      BUDGET_STREAM: stream,
      SHUTDOWN_GRACE_MS: "500",
      // The ledger alone: campaigns are checked in the campaign service's tests.
      CAMPAIGN_SERVICE_URL: "none",
      ...auth.envOf("budget"),
      QUOTAS: "off",
      ...options.env,
      CLOCK_OFFSET_MS: clockOffset,
    }),
    { logger: silent, relayPollMs: 200 },
  );
  const nc = await connect({ servers: natsServers(NATS_URL) });
  const transport = (url: string) => createGrpcTransport({ baseUrl: url, interceptors: auth.admin });
  /** Every message of this test's budget stream so far (period events and threshold alerts). */
  async function streamMessages(): Promise<{ subject: string; data: Uint8Array; msgId: string }[]> {
    const jsm = await jetstreamManager(nc);
    let info;
    try {
      info = await jsm.streams.info(stream);
    } catch {
      return [];
    }
    const out: { subject: string; data: Uint8Array; msgId: string }[] = [];
    if (info.state.messages === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream);
    for await (const m of await consumer.fetch({ max_messages: info.state.messages, expires: 2000 })) {
      out.push({ subject: m.subject, data: m.data, msgId: m.headers?.get("Nats-Msg-Id") ?? "" });
      if (out.length >= info.state.messages) break;
    }
    return out;
  }

  return {
    auth,
    brandApp,
    budgetApp,
    brands: createClient(BrandService, transport(brandApp.server.url)),
    budget: createClient(BudgetService, transport(budgetApp.server.url)),
    prefix,
    stream,
    budgetDbUrl: dbs[1].url,
    natsProxy,
    nc,
    now: () => Date.now() + Number(clockOffset),
    async events() {
      return (await streamMessages())
        .filter((m) => PERIOD_SUBJECT.test(m.subject))
        .map((m) => ({
          subject: m.subject,
          event: fromBinary(BudgetPeriodEventSchema, m.data),
          msgId: m.msgId,
        }));
    },
    async alerts() {
      return (await streamMessages())
        .filter((m) => m.subject.includes(".budget.threshold."))
        .map((m) => ({
          subject: m.subject,
          event: fromBinary(BudgetThresholdEventSchema, m.data),
          msgId: m.msgId,
        }));
    },
    async caps() {
      return (await streamMessages())
        .filter((m) => m.subject.includes(".budget.campaign_"))
        .map((m) => ({
          subject: m.subject,
          event: fromBinary(CampaignCapEventSchema, m.data),
          msgId: m.msgId,
        }));
    },
    async drained(timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      while ((await budgetApp.relay.pending()) > 0) {
        if (Date.now() > deadline) throw new Error("outbox not drained");
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async close() {
      await budgetApp.stop();
      await brandApp.stop();
      await natsProxy?.close();
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(stream).catch(() => undefined);
      await jsm.streams.delete(`${tag.toUpperCase()}_BRAND`).catch(() => undefined);
      await nc.close();
      for (const db of dbs) await db.drop();
    },
  };
}

let campaignCounter = 0;
/** A campaign id for spend (campaigns are checked once the campaign service exists). */
export function campaignId(): string {
  campaignCounter++;
  return `01900000-0000-7000-8000-${campaignCounter.toString(16).padStart(12, "0")}`;
}
