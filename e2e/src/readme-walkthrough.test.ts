import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toolBinary } from "@adbudget/testing";
import { addDays, formatDate, localDate, startOfDay } from "@adbudget/time";
import { readmeBlock, readmeBlocks, retarget } from "./readme-blocks.js";
import { launchSystemProcesses, type SystemProcesses } from "@adbudget/testing";
import { Terminal } from "./terminal.js";

/**
 * The README's "Calling the API" block and its walkthrough, run as a newcomer runs them: pasted
 * into terminals (the walkthrough in one, the ad server's watch in a third that has only what
 * its block sets), with grpcurl, jq, buf curl, curl, `npm run token` and the Temporal CLI,
 * against the built system as processes. Only the addresses move (the system's ports instead of
 * 50051-50053), and the key is the system's (AUTH_PRIVATE_KEY_FILE, which `npm run token` reads).
 *
 * Then all of it again, against the same system and in the same walkthrough terminal, as someone
 * replaying it would: a second run must work as the first did (it once died on the taken brand
 * name, then in `npm run token`'s stack trace for an empty --brand, then in auth errors).
 */
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const blocks = readmeBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));
const UUID = "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}";
const NEW_YORK = "America/New_York";
/** A line by which grpcurl, `npm run token`, buf curl or the Temporal CLI says it failed, or a stack frame. */
const FAILED = /^(ERROR|token|Failure|\w*Error|error)\b|^ {4}at /m;

let system: SystemProcesses;
/** The newcomer's checkout as the README's commands see it: the root files they use, linked. */
let checkout: string;
let env: NodeJS.ProcessEnv;
let block: (name: string) => string;
const terminals: Terminal[] = [];
const terminal = () => {
  const t = new Terminal({ cwd: checkout, env });
  terminals.push(t);
  return t;
};

/** `name` on the PATH, or an error that says the README needs it: not a failure of the system. */
function onPath(name: string, install: string): void {
  const found = (process.env.PATH ?? "").split(":").some((dir) => dir !== "" && existsSync(join(dir, name)));
  if (!found) throw new Error(`${name} is not on the PATH: the README's blocks use it (${install})`);
}

beforeAll(async () => {
  onPath("jq", "apt-get install jq");
  onPath("curl", "apt-get install curl");
  system = await launchSystemProcesses({ kind: "e2e", env: () => ({ RECONCILE_INTERVAL_MS: "0" }), keepStdout: true });
  checkout = mkdtempSync(join(tmpdir(), "adbudget-readme-"));
  copyFileSync(join(ROOT, "package.json"), join(checkout, "package.json"));
  for (const dir of ["node_modules", "scripts", ".proto-deps"]) symlinkSync(join(ROOT, dir), join(checkout, dir));
  // A newcomer's shell: none of the test runner's npm_* variables, the Go tools on the PATH.
  const tools = [...new Set([dirname(toolBinary("grpcurl")), dirname(toolBinary("temporal"))])];
  env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("npm_"))),
    PATH: [...tools, process.env.PATH ?? ""].join(":"),
    ...system.auth.env,
    TEMPORAL_ADDRESS: system.temporalAddress,
  };
  const hostOf = (url: string) => new URL(url).host;
  const addresses = {
    brand: hostOf(system.urls.brand),
    budget: hostOf(system.urls.budget),
    campaign: hostOf(system.urls.campaign),
  };
  block = (name) => retarget(readmeBlock(blocks, name), addresses);
}, 180_000);

afterAll(async () => {
  await Promise.all(terminals.map((t) => t.close()));
  await system?.stop();
  if (checkout !== undefined) rmSync(checkout, { recursive: true, force: true });
}, 60_000);

interface WatchMessage {
  type?: string;
  campaign?: { name?: string; serving?: boolean; pauseReasons?: string[] };
}

/** The messages of a WatchCampaigns stream as grpcurl prints them: one indented JSON object each. */
function watchMessages(printed: string): WatchMessage[] {
  return [...printed.matchAll(/^\{\n[\s\S]*?^\}$/gm)].map((m): WatchMessage => JSON.parse(m[0]));
}

/** Whether the watch showed campaign `name` stop for `reason`, then serve again. */
function stoppedThenServed(messages: WatchMessage[], name: string, reason: string): boolean {
  const mine = messages.filter((m) => m.campaign?.name === name).map((m) => m.campaign);
  const stopped = mine.findIndex((c) => c?.serving !== true && c?.pauseReasons?.includes(reason));
  return stopped >= 0 && mine.slice(stopped + 1).some((c) => c?.serving === true);
}

/** New York's local day at `at`, and the first instant after it, as ISO strings. */
function newYorkDay(at: number, daysAhead = 0): { day: string; next: string } {
  const day = addDays(localDate(at, NEW_YORK), daysAhead);
  return { day: formatDate(day), next: new Date(startOfDay(addDays(day, 1), NEW_YORK)).toISOString() };
}

describe("the README, as a newcomer runs it", () => {
  const brands: string[] = [];
  let api: Terminal | undefined;
  let second: Terminal | undefined;

  for (const run of [1, 2]) {
    it(`runs the API examples and the walkthrough, run ${run} of 2 against the same system`, async () => {
      // Calling the API: reads, health with and without a token, buf curl and curl.
      api ??= terminal();
      const examples = await api.run(block("api"), 60_000);
      expect(examples).not.toMatch(FAILED);
      expect(examples).toContain("adbudget.brand.v1.BrandService\ngrpc.health.v1.Health\n");
      expect(examples).toContain("rpc ListBrands");
      expect(examples.match(/"status": "SERVING"/g), examples).toHaveLength(2);
      expect(examples).toContain("adbudget.brand.v1.BrandService/ListBrands\n");
      // The earlier runs' brands are found by their name's prefix by grpcurl, buf curl and curl
      // (the unfiltered first page lists them too).
      for (const id of brands) expect(examples.split(id).length - 1, examples).toBeGreaterThanOrEqual(3);
      const listed: { brands?: { id?: string; name?: string }[] } = JSON.parse(
        examples.trim().split("\n").at(-1) ?? "",
      );
      expect((listed.brands ?? []).map((b) => b.id)).toEqual(brands);

      // The walkthrough, steps 1-3, in the second terminal (the same one both runs: its
      // variables from the first run must not get in the way of the second).
      second ??= terminal();
      const setup = await second.run(block("walkthrough-setup"), 90_000);
      expect(setup).not.toMatch(FAILED);
      const brand = new RegExp(`^BRAND=(${UUID})$`, "m").exec(setup)?.[1];
      expect(brand, setup).toBeDefined();
      brands.push(brand ?? "");

      // Step 4, in a third terminal that has nothing but what its block sets.
      const watch = terminal();
      watch.paste(block("walkthrough-watch"));
      const snapshot = await watch.waitFor(
        (text) => text.includes("WATCH_EVENT_TYPE_SNAPSHOT_COMPLETE"),
        60_000,
        "the watch's snapshot",
      );
      expect(snapshot).not.toMatch(FAILED);
      expect(
        watchMessages(snapshot)
          .map((m) => m.campaign?.name)
          .filter(Boolean)
          .sort(),
      ).toEqual(["Office hours", "Search"]);

      // Steps 5-10, back in the second terminal.
      const before = Date.now();
      const main = await second.run(block("walkthrough-main"), 120_000);
      const after = Date.now();
      // One refusal, the one step 8 shows.
      expect(main.match(/^ERROR:/gm), main).toHaveLength(1);
      expect(main).toMatch(/^ERROR:\n {2}Code: PermissionDenied\n/m);
      expect(main.replace(/^ERROR:\n.*\n.*\n/m, "")).not.toMatch(FAILED);
      // Step 5: the $6 runs the day out; the same event again is a duplicate.
      expect(main).toMatch(/"exhausted": true/);
      expect(main).toContain('{\n  "duplicate": true\n}');
      // Step 9: the part of the promo's answer shown, next_change_time the first instant after
      // its end date (ten days ahead in New York, as the block's `date -d '+10 days'` said).
      const promo =
        /^\{\n {2}"id": "[^"]+",\n {2}"serving": true,\n {2}"endDate": \{[^}]*\},\n {2}"nextChangeTime": "([^"]+)"\n\}$/m.exec(
          main,
        );
      expect(promo, main).not.toBeNull();
      expect([newYorkDay(before, 10).next, newYorkDay(after, 10).next]).toContain(
        new Date(promo?.[1] ?? "").toISOString(),
      );
      // Step 10: the reset clock's state query: New York's day and its next midnight.
      const state = /^ {2}QueryResult {2}(\{.*\})$/m.exec(main)?.[1];
      expect(state, main).toBeDefined();
      const { day, next } =
        [newYorkDay(before), newYorkDay(after)].find((d) => state?.includes(d.day)) ?? newYorkDay(before);
      expect(JSON.parse(state ?? "{}")).toEqual({
        zone: NEW_YORK,
        day,
        nextReset: next,
        iteration: expect.any(Number),
      });

      // Step 11: the paced day's target is shown, the campaign's throttle read, and the switch to
      // ACCELERATED answered (the limit kept).
      expect(main).toMatch(/"targetSpentMicros": "\d+"/);
      expect(main).toMatch(/\{\n {2}"name": "Search",\n {2}"throttle": [\d.]+\n\}/);
      expect(main).toContain('"pacingMode": "PACING_MODE_ACCELERATED"');
      // What the watch showed meanwhile: the day's exhaustion stopped Search and the raise brought
      // it back; the promo's own cap stopped it alone and the higher cap brought it back.
      await watch.waitFor(
        (text) => {
          const seen = watchMessages(text);
          return (
            stoppedThenServed(seen, "Search", "PAUSE_REASON_DAILY_BUDGET_EXHAUSTED") &&
            stoppedThenServed(seen, "Promo", "PAUSE_REASON_CAMPAIGN_BUDGET_EXHAUSTED")
          );
        },
        30_000,
        "the watch to show Search stop on the day and the promo on its cap, and both serve again",
      );
      await watch.close();
    }, 300_000);
  }
});
