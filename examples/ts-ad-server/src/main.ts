/**
 * An ad server on @adbudget/client, as small as it can be and still right with money:
 * `GET /ad?campaign=<id>` serves (200) only when the ServingCache says the campaign may, and
 * then reports the impression's price with a fresh event id; otherwise 204. `GET /healthz` shows
 * how stale the cache is and what the reporter holds. SIGTERM or Ctrl-C flushes the spend before
 * the process ends; a crash leaves it in the spool for the next start.
 *
 *   ADBUDGET_TOKEN=$(npm run -s token -- --role ad-server --brand $BRAND) BRAND_ID=$BRAND \
 *     node examples/ts-ad-server/src/main.ts
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import { ServingCache, SpendReporter, staticToken } from "@adbudget/client";

const problems: string[] = [];
const setting = (name: string, fallback?: string): string => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === "") problems.push(`${name} is required`);
  return v ?? "";
};
const token = setting("ADBUDGET_TOKEN");
const brandId = setting("BRAND_ID");
const campaignUrl = setting("CAMPAIGN_URL", "http://127.0.0.1:50053");
const budgetUrl = setting("BUDGET_URL", "http://127.0.0.1:50052");
const spoolDir = setting("SPOOL_DIR", ".data/ad-server-spool");
const port = Number(setting("PORT", "8080"));
const price = BigInt(setting("PRICE_MICROS", "2000"));
if (problems.length > 0) {
  console.error(
    `ad server: ${problems.join("; ")} (ADBUDGET_TOKEN: npm run -s token -- --role ad-server --brand <id>)`,
  );
  process.exit(2);
}

const tokens = staticToken(token);
const cache = new ServingCache({ campaignUrl, tokens, brandId });
const reporter = new SpendReporter({ budgetUrl, tokens, spoolDir });

const server = createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://ad-server");
  if (url.pathname === "/healthz") {
    const body = { staleness_ms: cache.staleness(), cache: cache.stats(), reporter: reporter.stats() };
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body));
    return;
  }
  if (url.pathname !== "/ad") return void res.writeHead(404).end();
  const campaignId = url.searchParams.get("campaign") ?? "";
  // Serving, and (a paced budget) this opportunity drawn within the campaign's throttle.
  if (!cache.shouldServe(campaignId)) return void res.writeHead(204).end();
  const eventId = randomUUID();
  if (!reporter.report({ eventId, brandId, campaignId, amountMicros: price })) {
    // The reporter is full (the budget service has been away long): serving unbilled is not an option.
    return void res.writeHead(503).end();
  }
  res
    .writeHead(200, { "content-type": "application/json" })
    .end(JSON.stringify({ campaign: campaignId, served: true, event_id: eventId }));
});

await cache.ready;
server.listen(port, "127.0.0.1", () => console.log(`ad server on http://127.0.0.1:${port} (brand ${brandId})`));

async function stop() {
  server.close();
  const { unsettled } = await reporter.close();
  await cache.close();
  console.log(`ad server stopped; ${unsettled} events left in ${spoolDir}`);
  process.exit(0);
}
process.once("SIGTERM", () => void stop());
process.once("SIGINT", () => void stop());
