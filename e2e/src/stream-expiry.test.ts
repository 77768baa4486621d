import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bearerInterceptor } from "@adbudget/kit";
import { eventually, newBrand, startSystemInProcess, type SystemHarness } from "@adbudget/testing";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService, WatchEventType } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";

/**
 * A stream lives as long as the token it was opened with (docs/design.md, Access): the services
 * check a token once, at the open, so without an end a 2-second token would watch forever. Each
 * stream here is opened with a token of 2 seconds and must end with UNAUTHENTICATED, not before
 * the token's `exp`, and the watcher it held must be gone from the service.
 */
let h: SystemHarness;
beforeAll(async () => {
  h = await startSystemInProcess();
});
afterAll(async () => {
  await h?.close();
});

/** A 2-second ad-server token of `brandId`, and when it expires (ms). */
async function shortToken(brandId: string) {
  const token = await h.auth.mint({ sub: "test:short-lived", role: "ad-server", brands: [brandId] }, 2);
  const { exp } = decodeJwt(token);
  if (exp === undefined) throw new Error("a minted token has no exp");
  return { interceptors: [bearerInterceptor(token)], expiresAt: exp * 1000 };
}

/** Reads `stream` to its end: what it delivered, the error it ended with, and when. */
async function drain<T>(stream: AsyncIterable<T>) {
  const seen: T[] = [];
  let error: ConnectError | undefined;
  try {
    for await (const m of stream) seen.push(m);
  } catch (err) {
    error = ConnectError.from(err);
  }
  return { seen, error, endedAt: Date.now() };
}

describe("a stream ends at its token's expiry", () => {
  it("WatchCampaigns: UNAUTHENTICATED at exp, its watcher released; a fresh token watches again", async () => {
    const brandId = await newBrand(h.brands, "Expiring watch");
    await h.campaigns.createCampaign({ brandId, name: "Watched" });
    const watchersBefore = h.campaignApp.own.hub.size;
    const { interceptors, expiresAt } = await shortToken(brandId);
    const url = h.campaignApp.server.url;
    const campaigns = createClient(CampaignService, createGrpcTransport({ baseUrl: url, interceptors }));
    const watch = drain(campaigns.watchCampaigns({ brandId }));
    // Open while the token is valid: the snapshot came, and the stream held a watcher.
    await eventually(async () => h.campaignApp.own.hub.size > watchersBefore, 5000, "the watch is open");
    const { seen, error, endedAt } = await watch;
    expect(error?.code, error?.message).toBe(Code.Unauthenticated);
    expect(error?.rawMessage).toMatch(/the token expired/);
    expect(seen.map((m) => m.type)).toEqual([WatchEventType.SNAPSHOT, WatchEventType.SNAPSHOT_COMPLETE]);
    expect(endedAt).toBeGreaterThanOrEqual(expiresAt);
    await eventually(async () => h.campaignApp.own.hub.size === watchersBefore, 5000, "the watcher released");

    // The client's answer to the end: watch again with a fresh token.
    const fresh = createClient(CampaignService, createGrpcTransport({ baseUrl: url, interceptors: h.auth.admin }));
    for await (const m of fresh.watchCampaigns({ brandId })) if (m.type === WatchEventType.SNAPSHOT_COMPLETE) break;
  }, 30_000);

  it("WatchBudgetAlerts: UNAUTHENTICATED at exp", async () => {
    const brandId = await newBrand(h.brands, "Expiring alerts");
    const { interceptors, expiresAt } = await shortToken(brandId);
    const url = h.budgetApp.server.url;
    const budget = createClient(BudgetService, createGrpcTransport({ baseUrl: url, interceptors }));
    const { seen, error, endedAt } = await drain(budget.watchBudgetAlerts({ brandId }));
    expect(error?.code, error?.message).toBe(Code.Unauthenticated);
    expect(seen.map((m) => ({ subscribed: m.subscribed, alert: m.alert !== undefined }))).toEqual([
      { subscribed: true, alert: false },
    ]);
    expect(endedAt).toBeGreaterThanOrEqual(expiresAt);
  }, 30_000);
});
