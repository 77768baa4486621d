import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServingCache, SpendReporter, staticToken, type ChangeCause } from "@adbudget/client";
import { eventually, startSdkSystem, startTcpProxy, type SdkSystem } from "@adbudget/testing";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { timestampMs } from "@bufbuild/protobuf/wkt";

/**
 * The TypeScript SDK's proofs (docs/sdk.md, issue 24) against the built services as processes:
 * two campaign replicas behind one address, the clocks worker on Temporal, the budget service.
 */
let sdk: SdkSystem;
beforeAll(async () => {
  sdk = await startSdkSystem("sdkts");
}, 180_000);
afterAll(async () => {
  await sdk?.stop();
}, 60_000);

async function newCampaigns(n: number, label: string): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { campaign } = await sdk.campaigns.createCampaign({ brandId: sdk.brandId, name: `${label} ${i}` });
    if (campaign === undefined) throw new Error("CreateCampaign answered no campaign");
    ids.push(campaign.id);
  }
  return ids;
}

/** The server's answer for every campaign of the brand. */
async function truth(): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  let pageToken = "";
  do {
    const page = await sdk.campaigns.listCampaigns({ brandId: sdk.brandId, pageSize: 1000, pageToken });
    for (const c of page.campaigns) out.set(c.id, c.serving);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}

const cacheOf = (extra: Partial<ConstructorParameters<typeof ServingCache>[0]> = {}) =>
  new ServingCache({
    campaignUrl: sdk.campaignUrl,
    tokens: staticToken(sdk.adServerToken),
    brandId: sdk.brandId,
    now: sdk.now,
    ...extra,
  });

describe("ServingCache", () => {
  it("converges with no change missed while every campaign replica is SIGKILLed in turn", async () => {
    const ids = await newCampaigns(20, "Kill");
    const changes: [string, boolean, ChangeCause][] = [];
    const cache = cacheOf({ onChange: (id, serving, cause) => changes.push([id, serving, cause]) });
    try {
      await cache.ready;
      expect(ids.every((id) => cache.isServing(id))).toBe(true);
      // Pause and resume at random during the kills: changes committed while streams are down.
      let mutating = true;
      let writes = 0;
      const mutator = (async () => {
        while (mutating) {
          const id = ids[Math.floor(Math.random() * ids.length)];
          const pause = Math.random() < 0.5;
          await (pause ? sdk.campaigns.pauseCampaign({ id }) : sdk.campaigns.resumeCampaign({ id })).then(
            () => writes++,
            () => undefined, // a write to the replica being killed: the next one goes elsewhere
          );
        }
      })();
      const { killed } = await sdk.breakCampaignStreams();
      mutating = false;
      await mutator;
      // The fault took effect: both replicas died of SIGKILL and the cache's stream broke.
      expect(killed).toBe(2);
      expect(cache.stats().reconnects).toBeGreaterThanOrEqual(1);
      expect(writes).toBeGreaterThan(0);
      await eventually(
        async () => {
          const t = await truth();
          return ids.every((id) => cache.isServing(id) === t.get(id)) && cache.staleness() === 0;
        },
        15_000,
        "the cache to agree with the server",
      );
      // onChange told the last word on every campaign: its final report equals the truth.
      const t = await truth();
      for (const id of ids) {
        const last = changes.filter(([c]) => c === id).at(-1);
        expect(last === undefined ? true : last[1]).toBe(t.get(id));
      }
    } finally {
      await cache.close();
    }
  }, 120_000);

  it("switches a campaign at its next_change_time, before the clock's write arrives", async () => {
    // The only window closes at the next local minute at least 10 s away (HH:MM granularity).
    const zone = sdk.zone;
    const now = sdk.now();
    const closeAt = Math.ceil((now + 10_000) / 60_000) * 60_000;
    const local = new Intl.DateTimeFormat("en-GB", {
      timeZone: zone,
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    const hhmm = (ms: number) => local.format(ms);
    const end = hhmm(closeAt) === "00:00" ? "24:00" : hhmm(closeAt);
    const start = hhmm(closeAt - 60 * 60_000) < end ? hhmm(closeAt - 60 * 60_000) : "00:00";
    const days = [1, 2, 3, 4, 5, 6, 7];
    const { campaign } = await sdk.campaigns.createCampaign({
      brandId: sdk.brandId,
      name: "Flip",
      schedule: { timeZone: zone, windows: [{ daysOfWeek: days, start, end }] },
    });
    if (campaign === undefined) throw new Error("no campaign");
    expect(campaign.serving).toBe(true);
    expect(campaign.nextChangeTime && timestampMs(campaign.nextChangeTime)).toBe(closeAt);
    let serverWriteAt: number | undefined;
    let clockNoticeAt: number | undefined;
    const notices: string[] = [];
    const cache = cacheOf({
      onChange: (id, serving, cause) => {
        notices.push(`${id === campaign.id ? "this" : "other"} ${serving} ${cause} at ${sdk.now() - closeAt}`);
        if (id !== campaign.id || serving) return;
        if (cause === "clock") clockNoticeAt = sdk.now();
      },
    });
    try {
      await cache.ready;
      expect(cache.isServing(campaign.id)).toBe(true);
      // Watch for the clock's write: the campaign's own state with OUTSIDE_DAYPART.
      const writeSeen = (async () => {
        const deadline = closeAt + 30_000;
        while (cache.campaign(campaign.id)?.pauseReasons.includes(PauseReason.OUTSIDE_DAYPART) !== true) {
          if (sdk.now() > deadline) throw new Error("timed out waiting for the clock's write");
          await new Promise((r) => setTimeout(r, 5));
        }
        serverWriteAt = sdk.now(); // within the 5 ms of this polling
      })();
      // Busy-poll the lookup around the instant: the event loop is ours from 50 ms before it to
      // 20 ms after (the clock's write, which comes later, is not held back by the polling).
      while (sdk.now() < closeAt - 50) await new Promise((r) => setTimeout(r, Math.min(100, closeAt - 50 - sdk.now())));
      let lastBefore: boolean | undefined;
      let firstAfter: { at: number; serving: boolean } | undefined;
      for (;;) {
        // The lookup reads the clock itself: a reading is "before" only if the clock read after it
        // is still before, "after" only if the one before it already is (the millisecond may tick
        // between the reads).
        const from = sdk.now();
        const serving = cache.isServing(campaign.id);
        const to = sdk.now();
        if (to < closeAt) lastBefore = serving;
        else if (from >= closeAt && firstAfter === undefined) firstAfter = { at: from, serving };
        if (from >= closeAt + 20) break;
      }
      expect(lastBefore, notices.join("; ")).toBe(true);
      expect(firstAfter?.serving).toBe(false);
      await writeSeen.catch(async (err: unknown) => {
        const { campaign: now } = await sdk.campaigns.getCampaign({ id: campaign.id });
        throw new Error(
          `${String(err)}; the server has ${JSON.stringify(now?.pauseReasons)}, the cache ${JSON.stringify(cache.stats())} staleness ${cache.staleness()}`,
        );
      });
      // The push path too: onChange(false, "clock") at the instant, before the clock's write.
      expect(clockNoticeAt).toBeGreaterThanOrEqual(closeAt);
      expect(serverWriteAt).toBeGreaterThan(clockNoticeAt ?? Infinity);
      expect(notices.filter((n) => n.startsWith("this false"))).toEqual([
        expect.stringMatching(/^this false clock at /),
      ]);
      console.log(
        `flip: first lookup at/after next_change_time answered false ${(firstAfter?.at ?? NaN) - closeAt} ms after it; ` +
          `onChange(clock) ${(clockNoticeAt ?? NaN) - closeAt} ms after; the clock's write arrived ${(serverWriteAt ?? NaN) - closeAt} ms after`,
      );
      expect(cache.isServing(campaign.id)).toBe(false);
    } finally {
      await cache.close();
    }
  }, 120_000);

  it("applies the stale policy while cut off, and resynchronizes when the way is back", async () => {
    const [id] = await newCampaigns(1, "Stale");
    const port = Number(new URL(sdk.campaignUrl).port);
    const proxy = await startTcpProxy("127.0.0.1", port);
    const url = `http://127.0.0.1:${proxy.port}`;
    const stale: string[] = [];
    const stop = cacheOf({
      campaignUrl: url,
      staleAfterMs: 1000,
      onChange: (c, _s, cause) => cause === "stale" && stale.push(c),
    });
    const keep = cacheOf({ campaignUrl: url, staleAfterMs: 1000, whenStale: "keep" });
    try {
      await Promise.all([stop.ready, keep.ready]);
      expect(stop.isServing(id) && keep.isServing(id)).toBe(true);
      await proxy.cut();
      await eventually(async () => stop.staleness() > 1000, 10_000, "the stop cache to go stale");
      expect(stop.isServing(id)).toBe(false);
      await eventually(async () => stale.includes(id), 5_000, "onChange(false, stale)");
      await eventually(async () => keep.staleness() > 1000, 10_000, "the keep cache to go stale");
      expect(keep.isServing(id)).toBe(true);
      // A change while cut off is seen on the resync.
      await sdk.campaigns.pauseCampaign({ id });
      await proxy.restore();
      await eventually(async () => stop.staleness() === 0 && keep.staleness() === 0, 15_000, "both caches to resync");
      expect(stop.isServing(id) || keep.isServing(id)).toBe(false);
    } finally {
      await Promise.all([stop.close(), keep.close()]);
      await proxy.close();
    }
  }, 60_000);

  it("stays in sync across token expiries: the stream ends at each, a fresh token reopens it", async () => {
    const [id] = await newCampaigns(1, "Refresh");
    let minted = 0;
    const cache = cacheOf({
      tokens: async () => {
        minted++;
        return sdk.mintAdServerToken(3);
      },
    });
    try {
      await cache.ready;
      await new Promise((r) => setTimeout(r, 8_000));
      await sdk.campaigns.pauseCampaign({ id });
      await eventually(async () => !cache.isServing(id) && cache.staleness() === 0, 10_000, "the pause to arrive");
      expect(minted).toBeGreaterThanOrEqual(3);
      expect(cache.stats().reconnects).toBeGreaterThanOrEqual(2);
    } finally {
      await cache.close();
    }
  }, 60_000);
});

/** The spend events of one campaign, as stored: id -> count of rows. */
async function storedEvents(campaignId: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  let pageToken = "";
  do {
    const page = await sdk.budget.listSpendEvents({ brandId: sdk.brandId, campaignId, pageSize: 1000, pageToken });
    for (const e of page.events) out.set(e.eventId, (out.get(e.eventId) ?? 0) + 1);
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return out;
}

describe("SpendReporter", () => {
  it("loses nothing it accepted when the ad server is SIGKILLed with spend in its spool", async () => {
    const [campaignId] = await newCampaigns(1, "Spend crash");
    const spoolDir = mkdtempSync(join(tmpdir(), "adbudget-spool-"));
    const run = `crash${Date.now().toString(36)}`;
    const env = {
      ...process.env,
      BUDGET_URL: sdk.budgetUrl,
      TOKEN: sdk.adServerToken,
      SPOOL_DIR: spoolDir,
      RUN: run,
      CLOCK_OFFSET_MS: String(sdk.clockOffsetMs),
      BRAND_ID: sdk.brandId,
      CAMPAIGN_ID: campaignId,
    };
    const child = join(import.meta.dirname, "sdk-reporter-child.ts");
    try {
      const acceptedFile = join(spoolDir, "..", `${run}.accepted`);
      const reporter = spawn(process.execPath, [child], {
        env: { ...env, MODE: "report", ACCEPTED_FILE: acceptedFile },
        stdio: ["ignore", "ignore", "inherit"],
      });
      const exited = new Promise<NodeJS.Signals | null>((r) => reporter.once("exit", (_c, s) => r(s)));
      const readAccepted = () =>
        existsSync(acceptedFile) ? readFileSync(acceptedFile, "utf8").split("\n").filter(Boolean) : [];
      await eventually(async () => readAccepted().length >= 3000, 60_000, "3000 accepted events");
      reporter.kill("SIGKILL");
      const exit = await exited;
      // Every index the child wrote before it died: each `report` that answered true but one at most.
      const indices = readAccepted().map(Number);
      rmSync(acceptedFile);
      const accepted = new Set(indices.map((i) => `${run}-${i}`));
      const maxIndex = Math.max(...indices);
      expect(exit).toBe("SIGKILL");
      // The fault took effect: accepted events were not stored yet, and they are in the spool.
      const storedAtKill = await storedEvents(campaignId);
      const spooled = readdirSync(spoolDir)
        .filter((f) => f.startsWith("segment-"))
        .flatMap((f) => readFileSync(join(spoolDir, f), "utf8").split("\n").filter(Boolean));
      const unsent = [...accepted].filter((id) => !storedAtKill.has(id));
      expect(unsent.length).toBeGreaterThan(0);
      expect(spooled.length).toBeGreaterThanOrEqual(unsent.length);
      // The ad server comes back on the same spool and sends what it had accepted.
      const drain = spawn(process.execPath, [child], {
        env: { ...env, MODE: "drain" },
        stdio: ["ignore", "pipe", "inherit"],
      });
      let out = "";
      drain.stdout.on("data", (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => drain.once("exit", (c) => r(c)));
      expect(code).toBe(0);
      const stats = JSON.parse(out) as { recovered: number; duplicates: number; unsettled: number };
      expect(stats.recovered).toBeGreaterThanOrEqual(unsent.length);
      expect(stats.unsettled).toBe(0);
      const stored = await storedEvents(campaignId);
      const missing = [...accepted].filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
      expect([...stored.values()].every((n) => n === 1)).toBe(true);
      // Nothing stored that was not reported: at most the one accepted as the kill came, unprinted.
      const extra = [...stored.keys()].filter((id) => !accepted.has(id));
      expect(extra.length, `extra ${extra.slice(0, 5).join(",")} max printed ${maxIndex}`).toBeLessThanOrEqual(1);
      expect(extra.every((id) => Number(id.split("-")[1]) === maxIndex + 1)).toBe(true);
      console.log(
        `reporter crash: ${accepted.size} accepted, ${unsent.length} not stored at the SIGKILL, ` +
          `${stats.recovered} read back from the spool (${stats.duplicates} already counted), ${stored.size} stored once each`,
      );
    } finally {
      rmSync(spoolDir, { recursive: true, force: true });
    }
  }, 120_000);

  it("retries through a SIGKILL of the budget service with the same ids: each counted once", async () => {
    const [campaignId] = await newCampaigns(1, "Spend outage");
    const reporter = new SpendReporter({
      budgetUrl: sdk.budgetUrl,
      tokens: staticToken(sdk.adServerToken),
      now: sdk.now,
    });
    const budget = sdk.system.replicasOf("budget")[0];
    const ids: string[] = [];
    const report = (n: number) => {
      for (let i = 0; i < n; i++) {
        const eventId = `outage-${ids.length}`;
        ids.push(eventId);
        expect(reporter.report({ eventId, brandId: sdk.brandId, campaignId, amountMicros: 7n })).toBe(true);
      }
    };
    try {
      report(500);
      await reporter.flush();
      await budget.process.kill();
      expect(budget.process.lives.at(-1)?.exit?.signal).toBe("SIGKILL");
      report(1500); // accepted while the service is down: report never waits
      await eventually(async () => reporter.stats().retries > 0, 15_000, "a send to fail and wait for its retry");
      budget.process.start();
      await sdk.system.healthy(budget);
      await reporter.flush();
      const stats = reporter.stats();
      expect(stats).toMatchObject({ accepted: 2000, acknowledged: 2000, rejected: 0, unsettled: 0 });
      const stored = await storedEvents(campaignId);
      expect(stored.size).toBe(2000);
      expect(ids.every((id) => stored.get(id) === 1)).toBe(true);
    } finally {
      await reporter.close();
      if (!budget.process.running) {
        budget.process.start();
        await sdk.system.healthy(budget);
      }
    }
  }, 120_000);

  it("rejects for good what the service refuses, keeps the rest, and says so", async () => {
    const [campaignId] = await newCampaigns(1, "Spend refused");
    const rejected: string[] = [];
    const spoolDir = mkdtempSync(join(tmpdir(), "adbudget-spool-"));
    const reporter = new SpendReporter({
      budgetUrl: sdk.budgetUrl,
      tokens: staticToken(sdk.adServerToken),
      spoolDir,
      now: sdk.now,
      onRejected: (e, code) => rejected.push(`${e.eventId}:${code}`),
    });
    try {
      const otherBrand = "00000000-0000-4000-8000-000000000000";
      expect(reporter.report({ eventId: "ok-1", brandId: sdk.brandId, campaignId, amountMicros: 5n })).toBe(true);
      expect(reporter.report({ eventId: "foreign", brandId: otherBrand, campaignId, amountMicros: 5n })).toBe(true);
      expect(() => reporter.report({ eventId: "", brandId: sdk.brandId, campaignId, amountMicros: 5n })).toThrow(
        /event_id/,
      );
      expect(() => reporter.report({ eventId: "neg", brandId: sdk.brandId, campaignId, amountMicros: -5n })).toThrow(
        /amount_micros/,
      );
      await reporter.flush();
      expect(reporter.stats()).toMatchObject({ accepted: 2, acknowledged: 1, rejected: 1, unsettled: 0 });
      expect(rejected).toEqual([expect.stringMatching(/^foreign:7$/)]); // PERMISSION_DENIED
      const lines = readFileSync(join(spoolDir, "rejected.jsonl"), "utf8").trim().split("\n");
      expect(lines.map((l) => (JSON.parse(l) as { id: string; code: string }).code)).toEqual(["PermissionDenied"]);
    } finally {
      await reporter.close();
      rmSync(spoolDir, { recursive: true, force: true });
    }
  }, 60_000);
});
