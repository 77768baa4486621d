/**
 * `npm run demo` (and the end of `npm start` unless DEMO=0): a live demo against the running
 * system, through its public gRPC API only. Seeds four brands in different time zones with
 * budgets and campaigns (one dayparted, one paused by its user), then plays ad servers reporting
 * spend for serving campaigns, so within a minute budgets run out and campaigns stop; then an
 * operator raises one limit and its campaigns come back. Three budgets are ACCELERATED (they
 * run out); Dune Tea's is PACED (the default), so its ad servers take only the share of
 * traffic its campaigns' throttle says and its day lasts; its launch campaign has a lifetime
 * budget over a three-day flight, paced at today's share. Prints what happens as it happens,
 * from WatchCampaigns.
 *
 * Every RecordSpend carries a W3C traceparent the demo made, so it knows the trace of the spend
 * that ran a budget out; when the services write their logs where `npm start` puts them
 * (DEMO_LOG_DIR, .data/logs) with TRACING=stdout, it prints that trace: the RecordSpend, the
 * campaign service consuming budget.exhausted (where the pause commits), and what followed.
 *
 * Every call is authenticated, each with the role it needs: an admin creates the brands, a
 * brand manager of those brands sets budgets and campaigns, ad servers scoped to them report
 * spend and watch. Tokens are signed with the development key `npm start` made (or
 * AUTH_PRIVATE_KEY_FILE).
 *
 * Env: BRAND_URL, BUDGET_URL, CAMPAIGN_URL (default 127.0.0.1:5005x), DEMO_SECONDS (60),
 * DEMO_LOG_DIR (.data/logs), AUTH_PRIVATE_KEY_FILE (.data/keys/signing-key.json), AUTH_AUDIENCE.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { JWK } from "jose";
import { bearerInterceptor, DEFAULT_ISSUER, mintToken, type TokenClaims } from "@adbudget/kit";
import { defaultServiceUrl, SERVICES, type ServiceName } from "@adbudget/topology";
import { printTrace } from "./demo-trace.ts";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { timestampMs } from "@bufbuild/protobuf/wkt";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { CampaignService, WatchEventType } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { addDays, formatClock, formatDate, localDate, wallTime } from "@adbudget/time";

const url = (service: ServiceName) => process.env[`${SERVICES[service].envPrefix}_URL`] ?? defaultServiceUrl(service);
const signingKey = JSON.parse(
  readFileSync(process.env.AUTH_PRIVATE_KEY_FILE || ".data/keys/signing-key.json", "utf8"),
) as JWK;
const token = (claims: TokenClaims) =>
  mintToken(signingKey, claims, {
    audience: process.env.AUTH_AUDIENCE || "adbudget",
    issuer: process.env.AUTH_ISSUER || DEFAULT_ISSUER,
    ttlSeconds: 3600,
  });
const t = (u: string, bearer: string) => createGrpcTransport({ baseUrl: u, interceptors: [bearerInterceptor(bearer)] });
const admin = await token({ sub: "demo:admin", role: "admin" });
const brands = createClient(BrandService, t(url("brand"), admin));
const SECONDS = Number(process.env.DEMO_SECONDS ?? 60);
const run = randomBytes(2).toString("hex");

const stamp = () => new Date().toISOString().slice(11, 19);
const say = (msg: string) => console.log(`[${stamp()}] ${msg}`);
const usd = (micros: bigint) => `$${(Number(micros) / 1e6).toFixed(2)}`;
const REASON: Record<number, string> = {
  [PauseReason.PAUSED_BY_USER]: "paused by user",
  [PauseReason.OUTSIDE_DAYPART]: "outside daypart",
  [PauseReason.DAILY_BUDGET_EXHAUSTED]: "daily budget exhausted",
  [PauseReason.MONTHLY_BUDGET_EXHAUSTED]: "monthly budget exhausted",
  [PauseReason.BRAND_ARCHIVED]: "brand archived",
  [PauseReason.NOT_STARTED]: "flight not started",
  [PauseReason.ENDED]: "flight ended",
  [PauseReason.CAMPAIGN_BUDGET_EXHAUSTED]: "campaign budget exhausted",
  [PauseReason.LIFETIME_BUDGET_EXHAUSTED]: "lifetime budget exhausted",
};

interface DemoBrand {
  id: string;
  name: string;
  zone: string;
  limit: bigint;
  paced: boolean;
  /** Serving and pacing throttle as the watch last said. */
  campaigns: Map<string, { name: string; serving: boolean; throttle: number }>;
}

say(`seeding brands (run ${run})`);
/** The capped campaign with a flight (Cove's promo). */
let promo: { brand: string; id: string } | undefined;
/** The campaign with a lifetime budget over a three-day flight (Dune Tea's launch). */
let launch: { brand: string; id: string } | undefined;
const LAUNCH_LIFETIME = 3_000_000n;
const seeds = [
  { name: "Acme Coffee", zone: "America/New_York", limit: 4_000_000n, paced: false },
  { name: "Bolt Bikes", zone: "Asia/Kathmandu", limit: 6_000_000n, paced: false },
  { name: "Cove Books", zone: "Europe/London", limit: 50_000_000n, paced: false },
  // Paced: spend follows the day's curve instead of the traffic. Without pacing the demo's
  // traffic would spend its $40 in about half a minute.
  { name: "Dune Tea", zone: "Europe/Paris", limit: 40_000_000n, paced: true },
];
const demo: DemoBrand[] = [];
const demoBrands: { seed: (typeof seeds)[number]; id: string }[] = [];
for (const s of seeds) {
  const { brand } = await brands.createBrand({ name: `${s.name} ${run}`, timeZone: s.zone });
  demoBrands.push({ seed: s, id: brand!.id });
}
// The brand manager and the ad servers of the demo's brands: their tokens name those brands.
const ids = demoBrands.map((b) => b.id);
const manager = await token({ sub: "demo:manager", role: "brand-manager", brands: ids });
const adServer = await token({ sub: "demo:ad-server", role: "ad-server", brands: ids });
say(
  `tokens: admin (brands), brand-manager (budgets, campaigns) and ad-server (spend, watch) of the ${ids.length} brands`,
);
const budget = createClient(BudgetService, t(url("budget"), manager));
const campaigns = createClient(CampaignService, t(url("campaign"), manager));
const spendApi = createClient(BudgetService, t(url("budget"), adServer));
const watchApi = createClient(CampaignService, t(url("campaign"), adServer));
for (const { seed: s, id } of demoBrands) {
  const brand = { id };
  // Alerts at 50%, 80% and 100% of each limit: the account manager hears before it stops.
  await budget.setBudget({
    brandId: brand.id,
    dailyLimitMicros: s.limit,
    monthlyLimitMicros: s.limit * 40n,
    alerts: { percents: [50, 80, 100] },
    pacingMode: s.paced ? PacingMode.PACED : PacingMode.ACCELERATED,
  });
  const b: DemoBrand = {
    id: brand.id,
    name: s.name,
    zone: s.zone,
    limit: s.limit,
    paced: s.paced,
    campaigns: new Map(),
  };
  // A dayparted campaign: serving now, in a window from an hour ago to two hours from now, local time.
  const w = wallTime(Date.now(), s.zone);
  const minute = w.hour * 60 + w.minute;
  const window = {
    daysOfWeek: [1, 2, 3, 4, 5, 6, 7],
    start: formatClock((minute + 1440 - 60) % 1440),
    end: formatClock((minute + 120) % 1440),
  };
  const today = localDate(Date.now(), s.zone);
  const plan: [string, { windows: (typeof window)[] } | undefined, boolean][] = [
    ["Search", undefined, false],
    ["Evening display", { windows: [window] }, false],
    ["Video", undefined, s.name.startsWith("Cove")],
  ];
  // Cove's promo has campaign controls: its own $1 a day, and a flight that ends in a week.
  if (s.name.startsWith("Cove")) plan.push(["Promo", undefined, false]);
  // Dune Tea's launch has $3 for its life, over a flight of three days: pacing gives today a third.
  if (s.name.startsWith("Dune")) plan.push(["Launch", undefined, false]);
  for (const [name, schedule, paused] of plan) {
    const controls =
      name === "Promo"
        ? { dailyLimitMicros: 1_000_000n, endDate: addDays(today, 6) }
        : name === "Launch"
          ? { lifetimeLimitMicros: LAUNCH_LIFETIME, startDate: today, endDate: addDays(today, 2) }
          : {};
    const { campaign } = await campaigns.createCampaign({ brandId: b.id, name, schedule, ...controls });
    if (name === "Promo") {
      promo = { brand: b.name, id: campaign!.id };
      say(
        `${s.name} / Promo: capped at ${usd(1_000_000n)} a day of its own spend, flight until ${formatDate(controls.endDate!)} (its clock wakes at ${new Date(timestampMs(campaign!.nextChangeTime!)).toISOString()})`,
      );
    }
    if (name === "Launch") {
      launch = { brand: b.name, id: campaign!.id };
      say(
        `${s.name} / Launch: ${usd(LAUNCH_LIFETIME)} for its life, over a flight until ${formatDate(addDays(today, 2))}: paced at a third of it today`,
      );
    }
    if (paused) await campaigns.pauseCampaign({ id: campaign!.id });
    b.campaigns.set(campaign!.id, { name, serving: campaign!.serving && !paused, throttle: campaign!.throttle ?? 1 });
  }
  demo.push(b);
  say(
    `${s.name} (${s.zone}, today ${today.year}-${today.month}-${today.day}): daily limit ${usd(s.limit)}, ${s.paced ? "paced" : "accelerated"}, campaigns ${[...b.campaigns.values()].map((c) => c.name).join(", ")}`,
  );
}

// Print every change as ad servers would see it.
const abort = new AbortController();
const byCampaign = new Map(demo.flatMap((b) => [...b.campaigns.keys()].map((id) => [id, b] as const)));
const watching = (async () => {
  try {
    for await (const m of watchApi.watchCampaigns({}, { signal: abort.signal })) {
      const c = m.campaign;
      const b = c && byCampaign.get(c.id);
      if (!c || !b) continue;
      const entry = b.campaigns.get(c.id)!;
      if (m.type === WatchEventType.SNAPSHOT) entry.serving = c.serving;
      const throttle = c.throttle ?? 1;
      if (m.type === WatchEventType.CHANGED && throttle !== entry.throttle) {
        say(`${b.name} / ${c.name}: pacing throttle ${entry.throttle.toFixed(2)} -> ${throttle.toFixed(2)}`);
        entry.throttle = throttle;
      }
      if (m.type !== WatchEventType.CHANGED || entry.serving === c.serving) continue;
      entry.serving = c.serving;
      const why = c.serving ? "serving again" : `stopped: ${c.pauseReasons.map((r) => REASON[r]).join(", ")}`;
      say(`${b.name} / ${c.name}: ${why}${m.change ? ` (cause ${m.change.cause})` : ""}`);
    }
  } catch {
    // the demo is over
  }
})();

// What an account manager hears: each brand's thresholds as they are reached.
let subscribed = 0;
const alertsWatching = demo.map((b) =>
  (async () => {
    try {
      for await (const m of budget.watchBudgetAlerts({ brandId: b.id }, { signal: abort.signal })) {
        if (m.subscribed) {
          subscribed++;
          continue;
        }
        const a = m.alert!;
        const period = a.period?.kind === PeriodKind.MONTH ? "this month's" : "today's";
        say(
          `${b.name}: alert, ${a.percent}% of ${period} budget spent (${usd(a.spentMicros)} of ${usd(a.limitMicros)})`,
        );
      }
    } catch {
      // the demo is over
    }
  })(),
);
for (let i = 0; i < 50 && subscribed < demo.length; i++) await new Promise((r) => setTimeout(r, 100)); // the alert streams are up

say(`ad servers start reporting spend for ${SECONDS}s (only serving campaigns spend)`);
const forecastAt = Date.now() + 5000;
let forecastShown = false;
const raised = new Set<string>();
const exhaustedAt = new Map<string, number>();
/** A W3C trace context of our own for one call, as a client with tracing sends: then we know its trace. */
const traced = () => {
  const traceId = randomBytes(16).toString("hex");
  return { traceId, headers: { traceparent: `00-${traceId}-${randomBytes(8).toString("hex")}-01` } };
};
/** Traces to print a few seconds after their call (spans are flushed every second). */
const toShow: { traceId: string; what: string; at: number }[] = [];
let exhaustionTraced = false;
const deadline = Date.now() + SECONDS * 1000;
let events = 0;
while (Date.now() < deadline) {
  for (const b of demo) {
    for (const [id, c] of b.campaigns) {
      // What the SDK's shouldServe does: serving, and a draw against the pacing throttle.
      if (!c.serving || Math.random() >= c.throttle) continue;
      const amount = BigInt(50_000 + Math.floor(Math.random() * 250_000));
      const { traceId, headers } = traced();
      const res = await spendApi.recordSpend(
        { eventId: `demo-${run}-${events++}`, brandId: b.id, campaignId: id, amountMicros: amount },
        { headers },
      );
      const day = res.status!.day!;
      if (day.exhausted && !exhaustedAt.has(b.id)) {
        exhaustedAt.set(b.id, Date.now());
        say(
          `${b.name}: daily budget exhausted at ${usd(day.spentMicros)} of ${usd(day.limitMicros ?? 0n)} (overspend ${usd(day.overspendMicros)}), trace ${traceId}`,
        );
        if (!exhaustionTraced) {
          exhaustionTraced = true;
          toShow.push({ traceId, what: `the spend that ran out ${b.name}'s budget`, at: Date.now() });
        }
      }
    }
  }
  // An operator raises one exhausted brand's limit a few seconds after it ran out.
  for (const b of demo) {
    const at = exhaustedAt.get(b.id);
    if (at !== undefined && !raised.has(b.id) && Date.now() - at > 8000 && raised.size === 0) {
      raised.add(b.id);
      const { traceId, headers } = traced();
      // Only the daily limit changes (named in the mask): the monthly limit and alerts stay.
      const { status } = await budget.setBudget(
        { brandId: b.id, dailyLimitMicros: b.limit * 3n, updateMask: { paths: ["daily_limit_micros"] } },
        { headers },
      );
      say(
        `operator raises ${b.name}'s daily limit to ${usd(b.limit * 3n)}: ${status!.day!.exhausted ? "still exhausted" : `${usd(status!.day!.remainingMicros ?? 0n)} left`}, trace ${traceId}`,
      );
      toShow.push({ traceId, what: `the operator's raise that brought ${b.name}'s campaigns back`, at: Date.now() });
    }
  }
  // A few seconds in, what the operator sees coming: when each day runs out at the current pace.
  if (!forecastShown && Date.now() > forecastAt) {
    forecastShown = true;
    for (const b of demo) {
      const { status } = await budget.getBudgetStatus({ brandId: b.id });
      const day = status!.day!;
      const at = day.projectedExhaustTime;
      const local = at === undefined ? undefined : wallTime(timestampMs(at), b.zone);
      say(
        `${b.name}: forecast at the last hour's pace (${usd(day.lastHourSpentMicros)}/h): ${
          local === undefined
            ? day.exhausted
              ? "already exhausted"
              : "lasts the day"
            : `today's budget runs out at ${String(local.hour).padStart(2, "0")}:${String(local.minute).padStart(2, "0")}:${String(local.second).padStart(2, "0")} ${b.zone}`
        }`,
      );
    }
  }
  while (toShow.length > 0 && Date.now() - toShow[0].at > 4000) {
    const t = toShow.shift()!;
    printTrace(t.traceId, t.what, say);
  }
  await new Promise((r) => setTimeout(r, 300));
}

abort.abort();
await watching;
await Promise.all(alertsWatching);
say(`done: ${events} spend events recorded`);
for (const b of demo) {
  const { status } = await budget.getBudgetStatus({ brandId: b.id });
  const serving = [...b.campaigns.values()].filter((c) => c.serving).length;
  const target = status!.day!.targetSpentMicros;
  say(
    `${b.name}: spent ${usd(status!.day!.spentMicros)} today (limit ${usd(status!.day!.limitMicros ?? 0n)}${target === undefined ? "" : `, paced: the day's curve stands at ${usd(target)} now`}), ${serving}/${b.campaigns.size} campaigns serving`,
  );
}
say(
  `the clocks in the Temporal UI: http://127.0.0.1:${process.env.TEMPORAL_UI_PORT ?? 8233}/namespaces/default/workflows?query=${encodeURIComponent(`BrandId="${demo[0].id}"`)}`,
);
if (promo !== undefined) {
  const { campaign } = await campaigns.getCampaign({ id: promo.id });
  say(
    `${promo.brand} / Promo: ${campaign!.serving ? "serving" : campaign!.pauseReasons.map((r) => REASON[r]).join(", ")}; its clock: http://127.0.0.1:${process.env.TEMPORAL_UI_PORT ?? 8233}/namespaces/default/workflows?query=${encodeURIComponent(`CampaignId="${promo.id}"`)}`,
  );
}
if (launch !== undefined) {
  const b = demo.find((d) => d.name === launch?.brand);
  const r = await budget.getCampaignSpend({ brandId: b?.id ?? "", campaignId: launch.id });
  const end = r.lifetimeProjectedExhaustTime;
  const local = end === undefined || b === undefined ? undefined : wallTime(timestampMs(end), b.zone);
  say(
    `${launch.brand} / Launch: ${usd(r.lifetimeSpentMicros)} of its ${usd(r.lifetimeLimitMicros ?? 0n)} lifetime spent${
      r.lifetimeExhausted
        ? ", exhausted"
        : local === undefined
          ? "; at its pace it lasts the flight"
          : `; at its pace it runs out on ${formatDate(local)} at ${String(local.hour).padStart(2, "0")}:${String(local.minute).padStart(2, "0")}`
    }`,
  );
}
say(
  `budgets reset at each brand's local midnight (budget-reset workflows); try: grpcurl -plaintext -H "authorization: Bearer $(npm run -s token -- --role viewer)" 127.0.0.1:50053 list`,
);
