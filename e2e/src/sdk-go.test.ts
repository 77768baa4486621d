import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { startSdkSystem, type SdkSystem } from "@adbudget/testing";

/**
 * The Go SDK's tests (clients/go) against the real system: `go test` runs its unit tests and
 * its integration tests (the proofs of docs/sdk.md: a cache converging after SIGKILLs of the
 * campaign replicas, a flip at `next_change_time`, a SIGKILLed reporter losing nothing, token
 * refresh) with the system's addresses, tokens and a control endpoint in its environment. A
 * skipped Go test fails this one: skipping is for a developer running `go test` without a system.
 */
const MODULE = join(import.meta.dirname, "../../clients/go");
let sdk: SdkSystem;
let control: string;

beforeAll(async () => {
  sdk = await startSdkSystem("sdkgo");
  control = await sdk.serveControl();
}, 180_000);
afterAll(async () => {
  await sdk?.stop();
}, 60_000);

function goTest(env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("go", ["test", "-count=1", "-v", "-timeout", "6m", "./..."], {
      cwd: MODULE,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, output }));
  });
}

test("go test ./... passes against the real services, nothing skipped", async () => {
  const { code, output } = await goTest(sdk.goTestEnv(control));
  const lines = output.split("\n");
  const passed = lines.filter((l) => /^\s*--- PASS: /.test(l));
  const skipped = lines.filter((l) => /^\s*--- SKIP: /.test(l));
  // The figures the Go proofs log (flip offsets, counts) go to the CI log.
  console.log(lines.filter((l) => /^\s+\S+_test\.go:\d+: /.test(l) || /^(ok|FAIL)\s/.test(l)).join("\n"));
  expect(code, output.slice(-6000)).toBe(0);
  expect(skipped, "no Go test may skip here").toEqual([]);
  expect(passed.length).toBeGreaterThan(0);
}, 420_000);
