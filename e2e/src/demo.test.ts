import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, test } from "vitest";
import { launchSystemProcesses, type SystemProcesses } from "@adbudget/testing";

/**
 * The live demo of `npm start`, played against the built system as `npm start` runs it (processes,
 * TRACING=stdout, logs in files): it must show a budget running out, campaigns stopping, a raised
 * limit bringing them back, and the traces of both, read from the services' span lines.
 */
const DEMO = fileURLToPath(new URL("../../scripts/demo.ts", import.meta.url));

let system: SystemProcesses;
let logDir: string;

beforeAll(async () => {
  logDir = mkdtempSync(join(tmpdir(), "adbudget-demo-"));
  system = await launchSystemProcesses({
    kind: "e2e",
    // Pacing ticks each second (10 s by default): the paced brand is throttled well inside the demo.
    env: () => ({ TRACING: "stdout", RECONCILE_INTERVAL_MS: "0", PACING_INTERVAL_MS: "1000" }),
    logDir,
    keepStdout: true,
  });
}, 180_000);

afterAll(async () => {
  await system?.stop();
  rmSync(logDir, { recursive: true, force: true });
}, 60_000);

test("the demo shows exhaustion, campaigns stopping, a raise bringing them back, and both traces", async () => {
  const out: string[] = [];
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(process.execPath, [DEMO], {
      env: {
        ...process.env,
        BRAND_URL: system.urls.brand,
        BUDGET_URL: system.urls.budget,
        CAMPAIGN_URL: system.urls.campaign,
        DEMO_SECONDS: "25",
        DEMO_LOG_DIR: logDir,
        ...system.auth.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout.setEncoding("utf8").on("data", (c: string) => out.push(c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => out.push(c));
    child.on("exit", resolve);
  });
  const text = out.join("");
  expect(code, text).toBe(0);
  // The first brand to run out (Acme Coffee's $4 nearly always) is the one the operator raises.
  const raised = /operator raises (\w+ \w+)'s daily limit to \$\d+\.00/.exec(text)?.[1];
  expect(raised, text).toBeDefined();
  expect(text).toMatch(new RegExp(`${raised}: daily budget exhausted at \\$\\d+\\.\\d\\d of \\$\\d+\\.00`));
  expect(text).toMatch(
    new RegExp(`${raised} / Search: stopped: daily budget exhausted \\(cause budget\\.exhausted\\)`),
  );
  expect(text).toMatch(new RegExp(`${raised} / Search: serving again \\(cause budget\\.replenished\\)`));
  // The traces, as trees read from the processes' span lines.
  expect(text).toMatch(/trace [0-9a-f]{32} \(the spend that ran out \w+ \w+'s budget\), \d+ spans/);
  expect(text).toMatch(/budget +adbudget\.budget\.v1\.BudgetService\/RecordSpend/);
  expect(text).toMatch(/campaign +consume \S+\.budget\.exhausted\./);
  expect(text).toMatch(
    new RegExp(`trace [0-9a-f]{32} \\(the operator's raise that brought ${raised}'s campaigns back\\), \\d+ spans`),
  );
  expect(text).toMatch(/budget +adbudget\.budget\.v1\.BudgetService\/SetBudget/);
  expect(text).toMatch(/campaign +consume \S+\.budget\.replenished\./);
  expect(text).not.toMatch(/no spans in/);
  // The capped promo stops alone on its own cap, and its clock (a flight) is findable by CampaignId.
  expect(text).toMatch(/Cove Books \/ Promo: capped at \$1\.00 a day of its own spend, flight until \d{4}-\d\d-\d\d/);
  expect(text).toMatch(/Cove Books \/ Promo: stopped: campaign budget exhausted \(cause campaign_budget\.exhausted\)/);
  // The paced brand: its throttle falls as its spend runs ahead of the day's curve, and its day lasts.
  expect(text).toMatch(/Dune Tea \/ Search: pacing throttle 1\.00 -> 0\.\d\d/);
  expect(text).toMatch(
    /Dune Tea: spent \$\d+\.\d\d today \(limit \$40\.00, paced: the day's curve stands at \$\d+\.\d\d now\)/,
  );
  expect(text).not.toMatch(/Dune Tea: daily budget exhausted/);
  // Its launch has a lifetime budget over a three-day flight: paced at today's share, and reported.
  expect(text).toMatch(/Dune Tea \/ Launch: \$3\.00 for its life, over a flight until \d{4}-\d\d-\d\d/);
  expect(text).toMatch(/Dune Tea \/ Launch: pacing throttle 1\.00 -> 0\.\d\d/);
  expect(text).toMatch(/Dune Tea \/ Launch: \$\d+\.\d\d of its \$3\.00 lifetime spent/);
  expect(text).toMatch(
    /Cove Books \/ Promo: campaign budget exhausted; its clock: http:\/\/127\.0\.0\.1:\d+\/namespaces\/default\/workflows\?query=CampaignId/,
  );
}, 120_000);
