/**
 * An ad server's spend path for the SDK's crash test (sdk-ts.test.ts): with MODE=report it
 * reports events `<RUN>-<i>` as fast as it can, appending `<i>` to ACCEPTED_FILE after each
 * `report` that answered true, until it is killed. A regular file, written with writeSync: the
 * line is in the kernel before the next report (stdout to the parent is a socket whose writes
 * Node may still hold in the process when the SIGKILL comes). With MODE=drain it opens the same spool, flushes what it finds, prints its
 * stats as JSON and exits.
 */
import { openSync, writeSync } from "node:fs";
import { SpendReporter, staticToken } from "@adbudget/client";

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === "") throw new Error(`${name} is required`);
  return v;
};

const reporter = new SpendReporter({
  budgetUrl: env("BUDGET_URL"),
  tokens: staticToken(env("TOKEN")),
  spoolDir: env("SPOOL_DIR"),
  // The services' clock: spend is dated on their "today".
  now: () => Date.now() + Number(env("CLOCK_OFFSET_MS")),
  // Long enough that events are still queued whenever the kill comes.
  lingerMs: 200,
  maxInFlight: 1,
});

if (env("MODE") === "drain") {
  await reporter.flush();
  const stats = reporter.stats();
  await reporter.close();
  process.stdout.write(`${JSON.stringify(stats)}\n`);
} else {
  const run = env("RUN");
  const brandId = env("BRAND_ID");
  const campaignId = env("CAMPAIGN_ID");
  const accepted = openSync(env("ACCEPTED_FILE"), "a");
  for (let i = 0; ; i++) {
    if (reporter.report({ eventId: `${run}-${i}`, brandId, campaignId, amountMicros: 1000n }))
      writeSync(accepted, `${i}\n`);
    // Let the batches go out between reports, as an ad server's event loop would.
    if (i % 50 === 49) await new Promise((r) => setImmediate(r));
  }
}
