import { createServer, type Server } from "node:http";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@adbudget/kit";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { Balancer } from "./balancer.js";
import { launchSystemProcesses, type SystemProcesses } from "./launcher-processes.js";
import { quietClockOffset, testZone } from "./test-clock.js";
import { newBrand } from "./test-steps.js";

/**
 * What the SDK proofs (docs/sdk.md) run against: the built services as processes, two campaign
 * replicas behind one balanced address (so a SIGKILL of either breaks the streams on it and the
 * reconnect lands on the other), the clocks worker on a Temporal dev server of its own (the
 * daypart writes arrive as in production: after the instant), one brand with a budget far
 * above what the tests spend, and tokens of an admin and of that brand's ad server.
 */
export interface SdkSystem {
  system: SystemProcesses;
  /** The services' clock: wall clock + clockOffsetMs (a quiet local noon: no midnight meets a run). */
  clockOffsetMs: number;
  now(): number;
  zone: string;
  brandId: string;
  adminToken: string;
  adServerToken: string;
  /** The balanced campaign address and the budget service's. */
  campaignUrl: string;
  budgetUrl: string;
  /** Admin clients (set-up and checks). */
  campaigns: Client<typeof CampaignService>;
  budget: Client<typeof BudgetService>;
  /** A fresh ad-server token of the brand living `ttlSeconds`. */
  mintAdServerToken(ttlSeconds: number): Promise<string>;
  /**
   * SIGKILLs each campaign replica in turn and starts it again, waiting for it to serve before
   * the next: every WatchCampaigns stream breaks at least once, and one replica serves
   * throughout except at the instant of each kill. Answers the replicas that died of SIGKILL.
   */
  breakCampaignStreams(): Promise<{ killed: number }>;
  /**
   * The same over HTTP for a test in another language (the Go SDK's): `POST /break-campaign-streams`
   * and `POST /token?ttl=<s>`. Answers its address.
   */
  serveControl(): Promise<string>;
  /** The settings the Go SDK's integration tests read (clients/go). */
  goTestEnv(controlUrl: string): Record<string, string>;
  stop(): Promise<void>;
}

export async function startSdkSystem(kind = "sdk"): Promise<SdkSystem> {
  const balancers: Balancer[] = [];
  let clockOffsetMs = 0;
  const system = await launchSystemProcesses({
    kind,
    replicas: { campaign: 2 },
    route: async (service, urls) => {
      if (service !== "campaign") return urls[0];
      const b = await Balancer.start(urls.map((u) => Number(new URL(u).port)));
      balancers.push(b);
      return b.url;
    },
    metrics: false,
    env: () => {
      clockOffsetMs = quietClockOffset();
      return { CLOCK_OFFSET_MS: String(clockOffsetMs), SHUTDOWN_GRACE_MS: "1000" };
    },
    stopGraceMs: 3000,
  });
  let control: Server | undefined;
  try {
    const adminToken = system.auth.adminToken;
    const t = (url: string) => createGrpcTransport({ baseUrl: url, interceptors: [bearerInterceptor(adminToken)] });
    const brands = createClient(BrandService, t(system.urls.brand));
    const budget = createClient(BudgetService, t(system.urls.budget));
    const campaigns = createClient(CampaignService, t(system.urls.campaign));
    const brandId = await newBrand(brands, "SDK");
    // A thousand units a day: the tests spend a few.
    // ACCELERATED: the SDK's proofs are about serving and spend, not pacing (e2e/src/pacing.test.ts),
    // so no throttle moves under them.
    await budget.setBudget({
      brandId,
      dailyLimitMicros: 1_000_000_000n,
      monthlyLimitMicros: 30_000_000_000n,
      pacingMode: PacingMode.ACCELERATED,
    });
    const mintAdServerToken = (ttlSeconds: number) =>
      system.auth.mint({ sub: "test:ad-server", role: "ad-server", brands: [brandId] }, ttlSeconds);
    const adServerToken = await mintAdServerToken(3600);
    const breakCampaignStreams = async () => {
      let killed = 0;
      for (const r of system.replicasOf("campaign")) {
        await r.process.kill();
        if (r.process.lives.at(-1)?.exit?.signal === "SIGKILL") killed++;
        r.process.start();
        await system.healthy(r);
      }
      return { killed };
    };
    const sdk: SdkSystem = {
      system,
      clockOffsetMs,
      now: () => Date.now() + clockOffsetMs,
      zone: testZone(),
      brandId,
      adminToken,
      adServerToken,
      campaignUrl: system.urls.campaign,
      budgetUrl: system.urls.budget,
      campaigns,
      budget,
      mintAdServerToken,
      breakCampaignStreams,
      async serveControl() {
        control = createServer((req, res) => {
          const url = new URL(req.url ?? "/", "http://control");
          const answer = (status: number, body: string) => res.writeHead(status).end(body);
          if (req.method !== "POST") return answer(405, "POST only");
          if (url.pathname === "/break-campaign-streams")
            return void breakCampaignStreams().then(
              (r) => answer(200, JSON.stringify(r)),
              (err: unknown) => answer(500, String(err)),
            );
          if (url.pathname === "/token")
            return void mintAdServerToken(Number(url.searchParams.get("ttl") ?? "3600")).then(
              (token) => answer(200, token),
              (err: unknown) => answer(400, String(err)),
            );
          answer(404, "unknown control");
        });
        const server = control;
        const port = await new Promise<number>((resolve) =>
          server.listen(0, "127.0.0.1", () => {
            const a = server.address();
            resolve(typeof a === "object" && a !== null ? a.port : 0);
          }),
        );
        return `http://127.0.0.1:${port}`;
      },
      goTestEnv: (controlUrl) => ({
        ADBUDGET_TEST_CAMPAIGN_URL: system.urls.campaign,
        ADBUDGET_TEST_BUDGET_URL: system.urls.budget,
        ADBUDGET_TEST_ADMIN_TOKEN: adminToken,
        ADBUDGET_TEST_AD_SERVER_TOKEN: adServerToken,
        ADBUDGET_TEST_BRAND_ID: brandId,
        ADBUDGET_TEST_ZONE: testZone(),
        ADBUDGET_TEST_CLOCK_OFFSET_MS: String(clockOffsetMs),
        ADBUDGET_TEST_CONTROL_URL: controlUrl,
      }),
      async stop() {
        control?.close();
        await system.stop();
        for (const b of balancers) await b.close();
      },
    };
    return sdk;
  } catch (err) {
    control?.close();
    await system.stop();
    for (const b of balancers) await b.close();
    throw err;
  }
}
