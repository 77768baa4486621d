/**
 * Daypart clocks at scale: N campaigns (default 2000) whose windows close at minute boundaries
 * spread over the next few minutes, each with its campaign-daypart workflow on a real Temporal
 * dev server (its own, in memory, from the built CLI) and the real services.
 * Prints how late the transitions land (audit commit time - boundary) and the worker's memory.
 *
 *   npm run build && node bench/daypart.ts [--campaigns 2000] [--minutes 3]
 */
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { createLogger } from "@adbudget/kit";
import { createTestAuth, createTestDatabase, startDevServer } from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { formatClock } from "@adbudget/time";
import { readWorkerConfig, startWorker } from "@adbudget/workflows";
import { deleteStreams, freePort, percentile, startService, stop } from "./lib.ts";

const { values } = parseArgs({ options: { campaigns: { type: "string", default: "2000" }, minutes: { type: "string", default: "3" } } });
const N = Number(values.campaigns);
const MINUTES = Number(values.minutes);
const MINUTE = 60_000;

const tag = `bench${Date.now().toString(36)}${randomBytes(2).toString("hex")}`;
const streams = { BRAND_STREAM: `${tag.toUpperCase()}_BRAND`, BUDGET_STREAM: `${tag.toUpperCase()}_BUDGET`, CAMPAIGN_STREAM: `${tag.toUpperCase()}_CAMPAIGN` };
const dbs = [await createTestDatabase(), await createTestDatabase()];
const [brandPort, campaignPort] = [await freePort(), await freePort()];
const auth = await createTestAuth();
const common = { EVENT_SUBJECT_PREFIX: tag, ...streams, HOST: "127.0.0.1", METRICS: "off", ...auth.env };
const brandSvc = await startService("services/brand/dist/main.js", { ...common, BRAND_PORT: String(brandPort), BRAND_DATABASE_URL: dbs[0]!.url });
const campaignSvc = await startService("services/campaign/dist/main.js", {
  ...common, CAMPAIGN_PORT: String(campaignPort), CAMPAIGN_DATABASE_URL: dbs[1]!.url, BRAND_SERVICE_URL: `http://127.0.0.1:${brandPort}`,
});
// Its own in-memory dev server by default (TEMPORAL_ADDRESS=host:port to use another one).
const devServer = process.env.TEMPORAL_ADDRESS ? undefined : await startDevServer();
const worker = await startWorker(
  readWorkerConfig({
    ...common,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? devServer!.address,
    TEMPORAL_TASK_QUEUE: `${tag}-queue`,
    BRAND_SERVICE_URL: `http://127.0.0.1:${brandPort}`,
    CAMPAIGN_SERVICE_URL: `http://127.0.0.1:${campaignPort}`,
    CLOCKS_BRAND_CONSUMER: `${tag}-b`,
    CLOCKS_CAMPAIGN_CONSUMER: `${tag}-c`,
    RECONCILE_INTERVAL_MS: "0",
    METRICS: "off",
  }),
  { logger: createLogger("bench-clocks", "warn") },
);

try {
  const t = (port: number) => createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}`, interceptors: auth.admin });
  const brands = createClient(BrandService, t(brandPort));
  const campaigns = createClient(CampaignService, t(campaignPort));
  const { brand } = await brands.createBrand({ name: tag, timeZone: "UTC" });

  // Boundaries: the next MINUTES whole minutes at least 90 s away (creating N campaigns takes time).
  const first = Math.ceil((Date.now() + 90_000) / MINUTE) * MINUTE;
  const boundaries = Array.from({ length: MINUTES }, (_, i) => first + i * MINUTE);
  const clock = (ms: number) => formatClock(Math.floor((ms % 86_400_000) / MINUTE));
  const ids = new Map<string, number>();
  console.error(`creating ${N} dayparted campaigns; boundaries at ${boundaries.map((b) => new Date(b).toISOString()).join(", ")}`);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < N; i = next++) {
        const end = boundaries[i % boundaries.length]!;
        const { campaign } = await campaigns.createCampaign({
          brandId: brand!.id,
          name: `c${i}`,
          schedule: { timeZone: "UTC", windows: [{ daysOfWeek: [1, 2, 3, 4, 5, 6, 7], start: clock(end - 60 * MINUTE), end: clock(end) }] },
        });
        ids.set(campaign!.id, end);
        if (i % 500 === 0) console.error(`  ${i}/${N}`);
      }
    }),
  );
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
  const lastBoundary = boundaries.at(-1)!;
  console.error(`waiting for the boundaries (until ${new Date(lastBoundary).toISOString()} + 60 s)`);
  await new Promise((r) => setTimeout(r, lastBoundary - Date.now() + 60_000));
  clearInterval(sampler);

  const late: number[] = [];
  let pageToken = "";
  do {
    const page = await campaigns.listCampaignStateChanges({ brandId: brand!.id, pageSize: 1000, pageToken });
    for (const c of page.changes) {
      const boundary = ids.get(c.campaignId);
      if (c.cause === "daypart" && !c.toServing && boundary !== undefined) late.push(timestampMs(c.changeTime!) - boundary);
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  late.sort((a, b) => a - b);
  console.log(`\n| daypart workflows | transitions landed | p50 late ms | p99 late ms | max late ms | worker process peak RSS MiB |`);
  console.log(`| ---: | ---: | ---: | ---: | ---: | ---: |`);
  console.log(`| ${N} | ${late.length} | ${percentile(late, 50).toFixed(0)} | ${percentile(late, 99).toFixed(0)} | ${late.at(-1)?.toFixed(0)} | ${(peakRss / 2 ** 20).toFixed(0)} |`);
} finally {
  // End the bench's workflows, then everything it started.
  for await (const wf of worker.client.workflow.list({ query: `TaskQueue = "${tag}-queue" AND ExecutionStatus = "Running"` })) {
    await worker.client.workflow.getHandle(wf.workflowId).terminate("bench over").catch(() => undefined);
  }
  await worker.stop();
  await devServer?.stop();
  await stop(campaignSvc);
  await stop(brandSvc);
  for (const db of dbs) await db.drop();
  await deleteStreams(Object.values(streams));
}
