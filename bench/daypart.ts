/**
 * Daypart clocks at scale: N campaigns (default 2000) whose windows close at the next MINUTES
 * whole minutes (N / MINUTES at each instant), each with its campaign-daypart workflow on a real
 * Temporal dev server (its own, in memory, from the built CLI; TEMPORAL_ADDRESS=host:port to use
 * another: the Temporal server of `npm run infra -- --topology production`, 127.0.0.1:7333) and
 * the real brand, budget and campaign services.
 *
 * Lateness of a stop = audit commit time - boundary. Beside it, the ceiling from the same run:
 * as many bare workflows (a timer and a local activity, nothing of ours) on a second worker
 * queue, all due at one more whole minute. Checked after: every campaign was created before its
 * boundary, carried that boundary as next_change_time, stopped exactly once (distinct campaigns,
 * not rows), and is paused OUTSIDE_DAYPART now. Any error or miss is printed and exits 1.
 *
 *   npm run build && node bench/daypart.ts [--campaigns 2000] [--minutes 3]
 */
import { parseArgs } from "node:util";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { temporal } from "@temporalio/proto";
import { NativeConnection, Worker } from "@temporalio/worker";
import { createLogger } from "@adbudget/kit";
import { calleeSettings, NATS_URL, startDevServer } from "@adbudget/testing";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { formatClock } from "@adbudget/time";
import { daypartWorkflowId, readWorkerConfig, startWorker } from "@adbudget/workflows";
import { percentile, startBenchSystem } from "./lib.ts";

const { values } = parseArgs({
  options: { campaigns: { type: "string", default: "2000" }, minutes: { type: "string", default: "3" } },
});
const N = Number(values.campaigns);
const MINUTES = Number(values.minutes);
const MINUTE = 60_000;
const errors: string[] = [];
const problem = (what: string) => {
  errors.push(what);
  console.error(`ERROR ${what}`);
};

// All three services (the brand's budget-reset clock opens periods in the budget service: it
// must be there); the clocks worker runs in this process, on the bench's queue.
const system = await startBenchSystem();
const { auth } = system;
const tag = system.plan.tag;
const common = { ...auth.envOf("clocks"), NATS_URL, ...system.plan.env, HOST: "127.0.0.1", METRICS: "off" };
const urls = calleeSettings("clocks", system.urls);
const devServer = process.env.TEMPORAL_ADDRESS ? undefined : await startDevServer();
const temporalAddress = process.env.TEMPORAL_ADDRESS ?? devServer!.address;
const worker = await startWorker(
  readWorkerConfig({
    ...common,
    ...urls,
    TEMPORAL_ADDRESS: temporalAddress,
    TEMPORAL_TASK_QUEUE: `${tag}-queue`,
    CLOCKS_BRAND_CONSUMER: `${tag}-b`,
    CLOCKS_CAMPAIGN_CONSUMER: `${tag}-c`,
    RECONCILE_INTERVAL_MS: "0",
    METRICS: "off",
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("CLOCKS_"))),
  }),
  { logger: createLogger("bench-clocks", "warn") },
);
// The ceiling's worker: same process, same server, its own queue and workflow bundle.
const ceilingConnection = await NativeConnection.connect({ address: temporalAddress });
const ceilingWorker = await Worker.create({
  connection: ceilingConnection,
  taskQueue: `${tag}-ceiling`,
  workflowsPath: new URL("./daypart-ceiling-workflows.ts", import.meta.url).pathname,
  activities: { wallClock: async () => Date.now() },
  // The clocks worker's settings (the SDK's defaults unless CLOCKS_* are set).
  ...(process.env.CLOCKS_WORKFLOW_TASK_SLOTS
    ? { maxConcurrentWorkflowTaskExecutions: Number(process.env.CLOCKS_WORKFLOW_TASK_SLOTS) }
    : {}),
  ...(process.env.CLOCKS_LOCAL_ACTIVITY_SLOTS
    ? { maxConcurrentLocalActivityExecutions: Number(process.env.CLOCKS_LOCAL_ACTIVITY_SLOTS) }
    : {}),
});
const ceilingDone = ceilingWorker.run();

try {
  const t = (url: string) => createGrpcTransport({ baseUrl: url, interceptors: auth.admin });
  const brands = createClient(BrandService, t(system.urls.brand));
  const campaigns = createClient(CampaignService, t(system.urls.campaign));
  const { brand } = await brands.createBrand({ name: tag, timeZone: "UTC" });

  // Boundaries: the next MINUTES whole minutes at least 90 s away (creating N campaigns takes
  // time), then one more for the ceiling.
  const first = Math.ceil((Date.now() + 90_000) / MINUTE) * MINUTE;
  const boundaries = Array.from({ length: MINUTES }, (_, i) => first + i * MINUTE);
  const ceilingAt = first + MINUTES * MINUTE;
  const clock = (ms: number) => formatClock(Math.floor((ms % 86_400_000) / MINUTE));
  const boundaryOf = new Map<string, number>();
  console.error(
    `creating ${N} dayparted campaigns; boundaries at ${boundaries.map((b) => new Date(b).toISOString()).join(", ")}; ceiling at ${new Date(ceilingAt).toISOString()}`,
  );
  let next = 0;
  let wrongNextChange = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < N; i = next++) {
        const end = boundaries[i % boundaries.length];
        try {
          const { campaign } = await campaigns.createCampaign({
            brandId: brand!.id,
            name: `c${i}`,
            schedule: {
              timeZone: "UTC",
              windows: [{ daysOfWeek: [1, 2, 3, 4, 5, 6, 7], start: clock(end - 60 * MINUTE), end: clock(end) }],
            },
          });
          if (Date.now() >= end) problem(`campaign c${i} was created after its boundary`);
          if (campaign!.nextChangeTime === undefined || timestampMs(campaign!.nextChangeTime) !== end)
            wrongNextChange++;
          boundaryOf.set(campaign!.id, end);
        } catch (err) {
          problem(`create c${i}: ${String(err)}`);
        }
        if (i % 500 === 0) console.error(`  ${i}/${N}`);
      }
    }),
  );
  if (wrongNextChange > 0) problem(`${wrongNextChange} campaigns did not carry their boundary as next_change_time`);
  const perMinute = Math.ceil(N / MINUTES);
  const ceilingRuns = await Promise.all(
    Array.from({ length: perMinute }, (_, i) =>
      worker.client.workflow.start("timerOnly", {
        taskQueue: `${tag}-ceiling`,
        workflowId: `${tag}-ceiling-${i}`,
        args: [ceilingAt],
      }),
    ),
  );
  console.error(
    `created ${boundaryOf.size} campaigns and ${ceilingRuns.length} ceiling workflows; ${((first - Date.now()) / 1000).toFixed(0)} s before the first boundary`,
  );

  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 500);
  console.error(`waiting for the boundaries (until ${new Date(ceilingAt).toISOString()} + 30 s)`);
  await new Promise((r) => setTimeout(r, ceilingAt - Date.now() + 30_000));
  clearInterval(sampler);

  // Stops by campaign: exactly one each, distinct campaigns counted, lateness of each.
  const stops = new Map<string, number[]>();
  let pageToken = "";
  do {
    const page = await campaigns.listCampaignStateChanges({ brandId: brand!.id, pageSize: 1000, pageToken });
    for (const c of page.changes) {
      const boundary = boundaryOf.get(c.campaignId);
      if (c.cause !== "daypart" || c.toServing || boundary === undefined) continue;
      stops.set(c.campaignId, [...(stops.get(c.campaignId) ?? []), timestampMs(c.changeTime!) - boundary]);
    }
    pageToken = page.nextPageToken;
  } while (pageToken);
  const late = [...stops.values()].map((l) => l[0]).sort((a, b) => a - b);
  const duplicated = [...stops.values()].filter((l) => l.length > 1).length;
  const missing = [...boundaryOf.keys()].filter((id) => !stops.has(id)).length;
  if (duplicated > 0) problem(`${duplicated} campaigns stopped more than once`);
  if (missing > 0) problem(`${missing} campaigns never stopped`);
  let notPaused = 0;
  pageToken = "";
  do {
    const page = await campaigns.listCampaigns({ brandId: brand!.id, pageSize: 1000, pageToken });
    notPaused += page.campaigns.filter(
      (c) => c.serving || !c.pauseReasons.includes(PauseReason.OUTSIDE_DAYPART),
    ).length;
    pageToken = page.nextPageToken;
  } while (pageToken);
  if (notPaused > 0) problem(`${notPaused} campaigns are not paused OUTSIDE_DAYPART after their boundary`);

  const ceilingLate = (
    await Promise.all(
      ceilingRuns.map((h) =>
        h.result().then(
          (at: number) => at - ceilingAt,
          (err: unknown) => {
            problem(`ceiling workflow: ${String(err)}`);
            return NaN;
          },
        ),
      ),
    )
  )
    .filter((x) => !Number.isNaN(x))
    .sort((a, b) => a - b);

  // Where the lateness goes, from the histories of a sample: the server firing the timer, the
  // workflow task waiting for the worker, the worker's turn up to the commit.
  const hops = { fired: [] as number[], taskStarted: [] as number[], committed: [] as number[] };
  const ceilingHops = { fired: [] as number[], taskStarted: [] as number[] };
  const sample = [...boundaryOf.entries()]
    .filter(([id]) => stops.has(id))
    .sort(() => Math.random() - 0.5)
    .slice(0, 200);
  for (const [id, boundary] of sample) {
    const h = afterBoundary(await worker.client.workflow.getHandle(daypartWorkflowId(id)).fetchHistory(), boundary);
    if (h === undefined) continue;
    hops.fired.push(h.fired - boundary);
    hops.taskStarted.push(h.taskStarted - h.fired);
    hops.committed.push(boundary + stops.get(id)![0] - h.taskStarted);
  }
  for (const run of ceilingRuns.slice(0, 200)) {
    const h = afterBoundary(await run.fetchHistory(), ceilingAt);
    if (h === undefined) continue;
    ceilingHops.fired.push(h.fired - ceilingAt);
    ceilingHops.taskStarted.push(h.taskStarted - h.fired);
  }
  for (const xs of [...Object.values(hops), ...Object.values(ceilingHops)]) xs.sort((a, b) => a - b);

  const ms = (xs: number[], p: number) => percentile(xs, p).toFixed(0);
  console.log(
    `\n| what | at one instant | stopped (distinct) | stopped twice | p50 late ms | p99 late ms | max late ms |`,
  );
  console.log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: |`);
  console.log(
    `| daypart stops (${N} workflows) | ~${perMinute} | ${stops.size} / ${boundaryOf.size} | ${duplicated} | ${ms(late, 50)} | ${ms(late, 99)} | ${late.at(-1)?.toFixed(0)} |`,
  );
  console.log(
    `| ceiling: timer + local activity, nothing else | ${ceilingRuns.length} | ${ceilingLate.length} / ${ceilingRuns.length} | - | ${ms(ceilingLate, 50)} | ${ms(ceilingLate, 99)} | ${ceilingLate.at(-1)?.toFixed(0)} |`,
  );
  // An ad server that switches at next_change_time itself (the SDK's ServingCache) serves a
  // campaign past its boundary only when the campaign did not carry that boundary before it.
  console.log(
    `\nA watcher honouring next_change_time: ${wrongNextChange} of ${boundaryOf.size} campaigns served past their boundary ` +
      `(every other one carried the boundary before it came; the stops' lateness above is then the store's, not the ad server's).`,
  );
  console.log(
    `\nWhere the time goes (${hops.fired.length} stops and ${ceilingHops.fired.length} ceiling runs sampled; p50 / p99 ms):`,
  );
  console.log(`| hop | daypart stops | ceiling |`);
  console.log(`| --- | ---: | ---: |`);
  console.log(
    `| boundary -> timer fired (server) | ${ms(hops.fired, 50)} / ${ms(hops.fired, 99)} | ${ms(ceilingHops.fired, 50)} / ${ms(ceilingHops.fired, 99)} |`,
  );
  console.log(
    `| timer fired -> workflow task started (queue, poll) | ${ms(hops.taskStarted, 50)} / ${ms(hops.taskStarted, 99)} | ${ms(ceilingHops.taskStarted, 50)} / ${ms(ceilingHops.taskStarted, 99)} |`,
  );
  console.log(
    `| task started -> state committed (worker, campaign service) | ${ms(hops.committed, 50)} / ${ms(hops.committed, 99)} | - |`,
  );
  console.log(
    `\nbench process (worker + ceiling worker) peak RSS: ${(peakRss / 2 ** 20).toFixed(0)} MiB; errors: ${errors.length}`,
  );
} catch (err) {
  problem(`bench aborted: ${String(err)}`);
} finally {
  // End the bench's workflows, then everything it started.
  const running = [];
  for await (const wf of worker.client.workflow.list({
    query: `(TaskQueue = "${tag}-queue" OR TaskQueue = "${tag}-ceiling") AND ExecutionStatus = "Running"`,
  })) {
    running.push(wf.workflowId);
  }
  for (let i = 0; i < running.length; i += 50) {
    await Promise.all(
      running.slice(i, i + 50).map((id) =>
        worker.client.workflow
          .getHandle(id)
          .terminate("bench over")
          .catch(() => undefined),
      ),
    );
  }
  ceilingWorker.shutdown();
  await ceilingDone;
  await ceilingConnection.close();
  await worker.stop();
  await devServer?.stop();
  await system.stop();
}
/** The first timer fired at or after `boundary` (less a second of clock skew) and the workflow task it started. */
function afterBoundary(
  history: temporal.api.history.v1.IHistory,
  boundary: number,
): { fired: number; taskStarted: number } | undefined {
  const time = (e: temporal.api.history.v1.IHistoryEvent) =>
    Number(e.eventTime!.seconds!.toString()) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
  const events = history.events ?? [];
  const i = events.findIndex((e) => e.timerFiredEventAttributes && time(e) >= boundary - 1000);
  if (i < 0) return undefined;
  const started = events.slice(i).find((e) => e.workflowTaskStartedEventAttributes);
  return started === undefined ? undefined : { fired: time(events[i]), taskStarted: time(started) };
}

if (errors.length > 0) {
  console.error(`\n${errors.length} error(s):\n${errors.slice(0, 20).join("\n")}`);
  process.exitCode = 1;
}
