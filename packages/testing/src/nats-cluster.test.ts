/**
 * The system on a NATS cluster of three (issue 23's production NATS, on this machine): the
 * services take the three servers as one NATS_URL, create their streams at three replicas
 * (STREAM_REPLICAS=3), and when the server that leads the campaign service's consumer of the
 * budget events dies (SIGKILL) the events go on: a budget run out afterwards still stops its
 * campaign, and no event is lost.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { eventually } from "./calls.js";
import { startSystemInProcess, type SystemHarness } from "./launcher-in-process.js";
import { startNatsCluster, type NatsCluster } from "./nats-cluster.js";

let cluster: NatsCluster;
let h: SystemHarness;

beforeAll(async () => {
  cluster = await startNatsCluster(3);
  h = await startSystemInProcess({ env: { NATS_URL: cluster.url, STREAM_REPLICAS: "3" } });
}, 120_000);

afterAll(async () => {
  try {
    await h?.close();
  } finally {
    await cluster?.stop();
  }
});

/** The campaign service's consumer of the budget events (its default durable name). */
const CAMPAIGN_BUDGET_EVENTS = "campaign-budget-events";

/** A brand whose day runs out with one spend, and its campaign: paused by the budget event once it does. */
async function runOut(name: string): Promise<{ brandId: string; campaignId: string }> {
  const { brand } = await h.brands.createBrand({ name: `${name} ${Math.random()}`, timeZone: "UTC" });
  const brandId = brand?.id ?? "";
  await h.budget.setBudget({ brandId, dailyLimitMicros: 10_000_000n });
  const { campaign } = await h.campaigns.createCampaign({ brandId, name });
  const campaignId = campaign?.id ?? "";
  const spent = await h.budget.recordSpend({
    eventId: `${name}-${brandId}`,
    brandId,
    campaignId,
    amountMicros: 10_000_000n,
  });
  expect(spent.status?.day?.exhausted).toBe(true);
  await eventually(
    async () => {
      const { campaign: c } = await h.campaigns.getCampaign({ id: campaignId });
      return c?.pauseReasons.includes(PauseReason.DAILY_BUDGET_EXHAUSTED) === true;
    },
    30_000,
    `${name}: the campaign paused by the budget event`,
  ).catch(async (err: unknown) => {
    throw new Error(`${String(err)}; where the event was: ${await whereEventsAre()}`, { cause: err });
  });
  return { brandId, campaignId };
}

/** Where the budget events are: not yet published (the outbox), on the stream, or not yet consumed. */
async function whereEventsAre(): Promise<string> {
  const { rows } = await h.budgetApp.pool.query<{ pending: string }>(
    "select count(*) filter (where published_at is null)::text as pending from outbox",
  );
  const jsm = await jetstreamManager(h.nc);
  const stream = await jsm.streams.info(h.budgetStream);
  const consumers = await jsm.consumers.list(h.budgetStream).next();
  return JSON.stringify({
    outboxPending: rows[0]?.pending,
    stream: { messages: stream.state.messages, leader: stream.cluster?.leader },
    consumers: consumers.map((c) => ({
      name: c.name,
      delivered: c.delivered.stream_seq,
      ackFloor: c.ack_floor.stream_seq,
      pending: c.num_pending,
      ackPending: c.num_ack_pending,
      leader: c.cluster?.leader,
    })),
  });
}

describe("the system on a NATS cluster of three", () => {
  it("keeps every stream on all three servers, and goes on when the budget consumer's leader dies", async () => {
    const jsm = await jetstreamManager(h.nc);
    const streams = [h.brandStream, h.budgetStream, h.campaignStream];
    const before = await runOut("before");
    for (const stream of streams) {
      const info = await jsm.streams.info(stream);
      expect([stream, info.config.num_replicas, info.cluster?.replicas?.length]).toEqual([stream, 3, 2]);
    }

    // The server leading the campaign service's consumer of the budget events dies: the pull the
    // service waits on is held there (JetStream elects a consumer's leader apart from its
    // stream's, so it is the consumer's that is killed).
    const leaderOf = async () => (await jsm.consumers.info(h.budgetStream, CAMPAIGN_BUDGET_EVENTS)).cluster?.leader;
    const leader = (await leaderOf()) ?? "";
    const node = cluster.nodes.get(leader);
    if (node === undefined) throw new Error(`no node named ${JSON.stringify(leader)} leads ${CAMPAIGN_BUDGET_EVENTS}`);
    expect(await node.kill()).toBe("SIGKILL");

    // Another budget runs out: its event is published to and read from the two servers left.
    const after = await runOut("after");
    expect(await leaderOf()).not.toBe(leader);
    // Nothing lost: every event the budget service wrote to its outbox is on the stream, once
    // (the outbox read first: a row published after the stream's count would differ).
    const { rows } = await h.budgetApp.pool.query<{ n: string; pending: string }>(
      "select count(*)::text as n, count(*) filter (where published_at is null)::text as pending from outbox",
    );
    const info = await jsm.streams.info(h.budgetStream);
    expect(rows[0]?.pending).toBe("0");
    expect(String(info.state.messages)).toBe(rows[0]?.n);
    expect([before.brandId, after.brandId].every((b) => b !== "")).toBe(true);
  }, 120_000);
});
