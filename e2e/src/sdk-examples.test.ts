import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, type Client } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { bearerInterceptor } from "@adbudget/kit";
import { eventually, freePort, launchSystemProcesses, newBrand, type SystemProcesses } from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";

/**
 * The two example ad servers (examples/), as the README's quick start runs them against
 * `npm start`: configured by environment only, they serve an ad of a serving campaign (200) and
 * not one of a paused campaign (204), bill each served ad, and flush the spend when stopped
 * with SIGTERM, so the budget service holds exactly the ads served.
 */
const ROOT = join(import.meta.dirname, "../..");
let system: SystemProcesses;
let work: string;
let budget: Client<typeof BudgetService>;
let campaigns: Client<typeof CampaignService>;
let brandId: string;
let goBinary: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "adbudget-examples-"));
  system = await launchSystemProcesses({ kind: "examples", worker: false, metrics: false });
  const t = (url: string) =>
    createGrpcTransport({ baseUrl: url, interceptors: [bearerInterceptor(system.auth.adminToken)] });
  budget = createClient(BudgetService, t(system.urls.budget));
  campaigns = createClient(CampaignService, t(system.urls.campaign));
  brandId = await newBrand(createClient(BrandService, t(system.urls.brand)), "Examples");
  goBinary = join(work, "go-ad-server");
  execFileSync("go", ["build", "-o", goBinary, "."], { cwd: join(ROOT, "examples/go-ad-server"), stdio: "inherit" });
}, 240_000);
afterAll(async () => {
  await system?.stop();
  if (work !== undefined) rmSync(work, { recursive: true, force: true });
}, 60_000);

const examples: { name: string; command: () => [string, string[]] }[] = [
  {
    name: "TypeScript (examples/ts-ad-server)",
    command: () => [process.execPath, [join(ROOT, "examples/ts-ad-server/src/main.ts")]],
  },
  { name: "Go (examples/go-ad-server)", command: () => [goBinary, []] },
];

describe("the example ad servers", () => {
  for (const example of examples) {
    it(`${example.name}: serves, bills each served ad, flushes on SIGTERM`, async () => {
      const [{ campaign: live }, { campaign: paused }] = await Promise.all([
        campaigns.createCampaign({ brandId, name: `Live ${example.name}` }),
        campaigns.createCampaign({ brandId, name: `Paused ${example.name}`, enabled: false }),
      ]);
      if (live === undefined || paused === undefined) throw new Error("no campaign");
      const port = await freePort();
      const [cmd, args] = example.command();
      const child: ChildProcess = spawn(cmd, args, {
        cwd: work,
        env: {
          ...process.env,
          CAMPAIGN_URL: system.urls.campaign,
          BUDGET_URL: system.urls.budget,
          ADBUDGET_TOKEN: await system.auth.mint({ sub: "example", role: "ad-server", brands: [brandId] }),
          BRAND_ID: brandId,
          SPOOL_DIR: join(work, `spool-${port}`),
          PORT: String(port),
          PRICE_MICROS: "2500",
        },
        stdio: ["ignore", "inherit", "inherit"],
      });
      const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
      try {
        const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`);
        await eventually(
          async () => (await get("/healthz").catch(() => undefined))?.ok === true,
          30_000,
          "the example to listen",
        );
        const served = [];
        for (let i = 0; i < 3; i++) served.push((await get(`/ad?campaign=${live.id}`)).status);
        expect(served).toEqual([200, 200, 200]);
        expect((await get(`/ad?campaign=${paused.id}`)).status).toBe(204);
        expect((await get("/ad?campaign=not-a-campaign")).status).toBe(204);
      } finally {
        child.kill("SIGTERM");
      }
      expect(await exited).toBe(0);
      // Stopped gracefully: the three served ads are counted, no more, nothing for the paused one.
      const { events } = await budget.listSpendEvents({ brandId, campaignId: live.id, pageSize: 100 });
      expect(events.map((e) => e.amountMicros)).toEqual([2500n, 2500n, 2500n]);
      expect((await budget.listSpendEvents({ brandId, campaignId: paused.id })).events).toEqual([]);
    }, 90_000);
  }
});
