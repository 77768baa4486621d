/**
 * The pacing simulator (issue 25): one local day of synthetic ad traffic for twin brands, one
 * paced and one accelerated with the same traffic, driven through the real services (in this
 * process, over real ports, real PostgreSQL and NATS) and the ad-server SDK (ServingCache's
 * `shouldServe`, SpendReporter), on a clock that runs `--rate` times faster than the wall clock.
 * It prints, per brand, when its budget ran out, the largest gap between its spend and its target
 * curve, and its overspend, checks the goals, and draws target versus actual into an SVG.
 *
 *   npm run sim:pacing [-- --rate 360 --day 2027-06-15 --zone America/New_York --out docs/pacing-sim.svg]
 *
 * Each brand has 13 days of history shaped like its traffic (what a paced brand's hourly profile
 * is learned from); the twins differ only in their pacing mode. Goals (the issue's): a paced budget
 * runs out in the day's last hour or not at all, stays within 5% of the limit of its target at
 * every sample, and overspends by at most 1% of the limit.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { ServingCache, SpendReporter, staticToken } from "@adbudget/client";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { startSystemInProcess } from "@adbudget/testing";
import { addDays, formatDate, parseDate, startOfDay, wallTime } from "@adbudget/time";
import { renderSvg, type Panel, type Series } from "./pacing-plot.ts";
import {
  DIURNAL_DAY,
  diurnal,
  expectedOpportunities,
  poisson,
  price,
  rng,
  walk,
  type Traffic,
} from "./pacing-traffic.ts";

const { values } = parseArgs({
  options: {
    rate: { type: "string", default: "360" },
    day: { type: "string", default: "2027-06-15" },
    zone: { type: "string", default: "America/New_York" },
    out: { type: "string", default: "docs/pacing-sim.svg" },
  },
});
const RATE = Number(values.rate);
const ZONE = values.zone;
const DAY = parseDate(values.day);
const DAY_START = startOfDay(DAY, ZONE);
const DAY_END = startOfDay(addDays(DAY, 1), ZONE);
const HOUR = 3_600_000;
const LIMIT = 1_000_000_000n; // 1,000 units a day, every brand
/** A served opportunity costs 0.25 units on average: ~4,000 spend events make a day's budget. */
const MEAN_PRICE = 250_000;
/** Traffic at throttle 1 as a multiple of the daily limit, one twin pair each. */
const DEMANDS = [1.5, 2, 3, 5];
/** Campaigns per brand, and each one's share of the brand's opportunities. */
const CAMPAIGN_SHARES = [0.6, 0.4];
/** Wall-clock ms between generator steps, and between status samples. */
const STEP_MS = 20;
const SAMPLE_MS = 500;

const log = (msg: string) => console.error(`[sim:pacing] ${msg}`);
const local = (ms: number) => {
  const w = wallTime(ms, ZONE);
  return `${String(w.hour).padStart(2, "0")}:${String(w.minute).padStart(2, "0")}`;
};
const pct = (micros: bigint) => (Number(micros) / Number(LIMIT)) * 100;

// The clock: frozen 5 minutes before the day while the brands are set up, then running at RATE.
let anchorReal = 0;
const SIM_FROM = DAY_START - 5 * 60_000;
/** Whole milliseconds, as every "now" of the services is. */
const now = () => (anchorReal === 0 ? SIM_FROM : SIM_FROM + Math.floor((performance.now() - anchorReal) * RATE));

interface Brand {
  id: string;
  pair: number;
  mode: "paced" | "accelerated";
  campaigns: string[];
  traffic: Traffic;
  /** Opportunities: the same seed for both twins. */
  opportunities: () => number;
  wobble: () => number;
  prices: () => number;
  samples: { t: number; spent: bigint; target: bigint | undefined }[];
}

log(`starting the services (in process), clock x${RATE}, day ${values.day} in ${ZONE}`);
const h = await startSystemInProcess({ now, budgetEnv: { PACING_INTERVAL_MS: "250" } });
let exit = 0;
try {
  const brands: Brand[] = [];
  for (const [pair, demand] of DEMANDS.entries()) {
    for (const mode of ["paced", "accelerated"] as const) {
      const { brand } = await h.brands.createBrand({
        name: `sim ${mode} ${demand}x ${Date.now()}`,
        timeZone: ZONE,
        currencyCode: "USD",
      });
      const id = brand?.id ?? "";
      const campaigns: string[] = [];
      for (const [k] of CAMPAIGN_SHARES.entries()) {
        const { campaign } = await h.campaigns.createCampaign({ brandId: id, name: `c${k}` });
        campaigns.push(campaign?.id ?? "");
      }
      const seed = 1000 + pair;
      brands.push({
        id,
        pair,
        mode,
        campaigns,
        traffic: { perDay: (demand * Number(LIMIT)) / MEAN_PRICE, meanPriceMicros: MEAN_PRICE, wobble: 0.25 },
        opportunities: rng(seed),
        wobble: walk(rng(seed + 500)),
        prices: rng(seed + (mode === "paced" ? 7 : 9)),
        samples: [],
      });
      await seedHistory(id, campaigns[0] ?? "");
      await h.budget.setBudget({
        brandId: id,
        dailyLimitMicros: LIMIT,
        pacingMode: mode === "paced" ? PacingMode.PACED : PacingMode.ACCELERATED,
      });
    }
  }
  const tokens = staticToken(h.auth.adminToken);
  const cache = new ServingCache({ campaignUrl: h.campaignApp.server.url, tokens, now });
  const reporter = new SpendReporter({ budgetUrl: h.budgetApp.server.url, tokens, now, lingerMs: 10 });
  await cache.ready;
  log(
    `${brands.length} brands, ${brands.length * CAMPAIGN_SHARES.length} campaigns; the day runs for ~${Math.round((DAY_END - SIM_FROM) / RATE / 1000)} s`,
  );

  anchorReal = performance.now();
  let last = now();
  let nextSample = 0;
  let nextHour = DAY_START + HOUR;
  let seq = 0;
  let served = 0;
  let opportunities = 0;
  while (last < DAY_END) {
    await sleep(STEP_MS);
    const t = Math.min(now(), DAY_END);
    if (t > DAY_START) {
      const fromH = (Math.max(last, DAY_START) - DAY_START) / HOUR;
      const toH = (t - DAY_START) / HOUR;
      for (const b of brands) {
        const wobble = b.wobble();
        for (const [k, share] of CAMPAIGN_SHARES.entries()) {
          const n = poisson(b.opportunities, share * expectedOpportunities(b.traffic, fromH, toH, wobble));
          const campaignId = b.campaigns[k] ?? "";
          opportunities += n;
          for (let i = 0; i < n; i++) {
            if (!cache.shouldServe(campaignId)) continue;
            served++;
            reporter.report({
              eventId: `sim-${++seq}`,
              brandId: b.id,
              campaignId,
              amountMicros: price(b.traffic, b.prices),
            });
          }
        }
      }
    }
    last = t;
    if (performance.now() >= nextSample) {
      nextSample = performance.now() + SAMPLE_MS;
      await sample(brands, t);
    }
    if (t >= nextHour) {
      const line = brands
        .filter((b) => b.mode === "paced")
        .map((b) => `${pct(b.samples.at(-1)?.spent ?? 0n).toFixed(0)}%`)
        .join(" ");
      log(`${local(t)} paced brands spent ${line} (${opportunities} opportunities, ${served} served)`);
      nextHour += HOUR;
    }
  }
  await reporter.flush();
  await reporter.close();
  await cache.close();

  // The ledger, read after the day: the actual curves, when each budget ran out, overspend.
  const rows: string[][] = [];
  const panels: Panel[] = [];
  const failures: string[] = [];
  for (const [pair, demand] of DEMANDS.entries()) {
    const twins = brands.filter((b) => b.pair === pair);
    const paced = twins.find((b) => b.mode === "paced");
    const accelerated = twins.find((b) => b.mode === "accelerated");
    if (paced === undefined || accelerated === undefined) continue;
    const target: Series = paced.samples.flatMap((s) =>
      s.target === undefined ? [] : [[(s.t - DAY_START) / HOUR, pct(s.target)] as [number, number]],
    );
    const curves: Record<string, Series> = {};
    for (const b of [paced, accelerated]) {
      const ledger = await ledgerOf(b.id);
      curves[b.mode] = ledger.curve;
      const gap = maxGap(b, paced);
      const ranOut = ledger.exhaustedAt;
      const overspend = ledger.total > LIMIT ? pct(ledger.total - LIMIT) : 0;
      rows.push([
        `${demand}x`,
        b.mode,
        ranOut === undefined ? "not at all" : local(ranOut),
        `${gap.toFixed(1)}%`,
        `${overspend.toFixed(2)}%`,
        `${pct(ledger.total).toFixed(1)}%`,
      ]);
      if (b.mode === "paced") {
        if (ranOut !== undefined && ranOut < DAY_END - HOUR)
          failures.push(`${demand}x paced ran out at ${local(ranOut)}, before the last hour`);
        if (gap > 5) failures.push(`${demand}x paced strayed ${gap.toFixed(1)}% of its limit from its target`);
      }
      if (overspend > 1) failures.push(`${demand}x ${b.mode} overspent ${overspend.toFixed(2)}% of its limit`);
    }
    panels.push({
      title: `traffic ${demand}x the daily limit`,
      target,
      paced: curves.paced ?? [],
      accelerated: curves.accelerated ?? [],
    });
  }
  const header = ["traffic", "mode", "ran out at", "largest gap to target", "overspend", "spent"];
  console.log(`| ${header.join(" | ")} |`);
  console.log(`| ${header.map(() => "---").join(" | ")} |`);
  for (const r of rows) console.log(`| ${r.join(" | ")} |`);
  console.log(
    `\n${values.day} in ${ZONE}, clock x${RATE}: ${opportunities} opportunities, ${served} served (${seq} spend events); gaps and overspend in % of the daily limit.`,
  );
  writeFileSync(
    values.out,
    renderSvg(panels, `adbudget pacing simulator: ${values.day} in ${ZONE}, cumulative spend in % of the daily limit`),
  );
  log(`plot written to ${values.out}`);
  if (failures.length === 0)
    console.log(
      "goals met: every paced budget ran out in its last hour or not at all, within 5% of its target, overspend within 1%",
    );
  else {
    console.log(`goals missed:\n- ${failures.join("\n- ")}`);
    exit = 1;
  }
} finally {
  await h.close();
}
process.exit(exit);

/**
 * History shaped like the traffic, one event per local hour, a day's limit a day, on 13 of the
 * 14 days the profile is learned from: yesterday stays empty, because the simulation starts in
 * it, and a day spent to its limit would pause the campaigns until a reset that this in-process
 * system (no clocks worker) never runs.
 */
async function seedHistory(brandId: string, campaignId: string): Promise<void> {
  const events = [];
  for (let d = 14; d >= 2; d--) {
    const start = startOfDay(addDays(DAY, -d), ZONE);
    for (let hr = 0; hr < 24; hr++) {
      const share = (diurnal(hr + 0.5) / DIURNAL_DAY) * 1;
      events.push({
        eventId: `history-${d}-${hr}`,
        brandId,
        campaignId,
        amountMicros: BigInt(Math.max(1, Math.round(share * Number(LIMIT)))),
        occurredAt: timestampFromMs(start + hr * HOUR + HOUR / 2),
      });
    }
  }
  for (let i = 0; i < events.length; i += 500) await h.budget.recordSpendBatch({ events: events.slice(i, i + 500) });
}

/** Each brand's status now: spent, and (paced) its target. */
async function sample(all: Brand[], t: number): Promise<void> {
  await Promise.all(
    all.map(async (b) => {
      const { status } = await h.budget.getBudgetStatus({ brandId: b.id });
      const day = status?.day;
      // Only the simulated day's own figures (a sample taken after its end reads the next day).
      const start = day?.periodStart;
      if (day === undefined || start === undefined || formatDate(start) !== values.day) return;
      b.samples.push({ t: Math.min(t, DAY_END), spent: day.spentMicros, target: day.targetSpentMicros });
    }),
  );
}

/** The largest gap, in % of the limit, between a brand's spend and its paced twin's target at the same samples. */
function maxGap(b: Brand, paced: Brand): number {
  let worst = 0;
  for (const [i, s] of b.samples.entries()) {
    const target = paced.samples[i]?.target;
    if (target === undefined) continue;
    worst = Math.max(worst, Math.abs(pct(s.spent - target)));
  }
  return worst;
}

/** A brand's spend of the day from the ledger: the cumulative curve (5-minute steps), its total, when it reached the limit. */
async function ledgerOf(brandId: string) {
  const { rows } = await h.budgetApp.pool.query<{ at: Date; amount: string }>(
    "select occurred_at as at, amount_micros::text as amount from spend_events where brand_id = $1 and occurred_at >= $2 and occurred_at < $3 order by occurred_at, event_id",
    [brandId, new Date(DAY_START), new Date(DAY_END)],
  );
  const curve: Series = [[0, 0]];
  let total = 0n;
  let exhaustedAt: number | undefined;
  let nextPoint = DAY_START + 5 * 60_000;
  for (const r of rows) {
    const at = r.at.getTime();
    while (at >= nextPoint) {
      curve.push([(nextPoint - DAY_START) / HOUR, pct(total)]);
      nextPoint += 5 * 60_000;
    }
    total += BigInt(r.amount);
    if (exhaustedAt === undefined && total >= LIMIT) exhaustedAt = at;
  }
  while (nextPoint <= DAY_END) {
    curve.push([(nextPoint - DAY_START) / HOUR, pct(total)]);
    nextPoint += 5 * 60_000;
  }
  return { curve, total, exhaustedAt };
}
