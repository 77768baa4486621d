import type pg from "pg";
import { inTransaction, NotFoundError, type Logger, type Now } from "@adbudget/kit";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, periodsOf } from "@adbudget/time";
import type { BrandDirectory } from "./brand-directory.js";
import { storedPacing } from "./budget-patch.js";
import {
  brandThrottle,
  observe,
  throttleFor,
  wantedRate,
  worthPublishing,
  type PacingMemory,
} from "./pacing-controller.js";
import { lifetimeShareToday } from "./lifetime-budget.js";
import { targetMicros } from "./pacing-curve.js";
import { writeThrottleEvents, type ThrottleChange } from "./pacing-events.js";
import type { PacingProfiles } from "./pacing-profile.js";
import { usableZone } from "./runtime-zone.js";

/** The advisory lock one tick holds: replicas take turns, and a tick never runs twice at once. */
export const PACING_LOCK_KEY = 0x70616365; // "pace"

export interface PacingLoopDeps {
  pool: pg.Pool;
  brands: BrandDirectory;
  profiles: PacingProfiles;
  prefix: string;
  logger: Logger;
  now: Now;
  /** Wall-clock milliseconds between ticks (PACING_INTERVAL_MS). */
  intervalMs: number;
  /** The controller's horizon, in the services' time (PACING_HORIZON_MS). */
  horizonMs: number;
  /** Wakes the outbox relay after a tick published. */
  onEvents: () => void;
}

/** What a tick did (for logs and tests). */
export interface TickReport {
  /** False when another replica held the tick's lock. */
  ran: boolean;
  brands: number;
  published: ThrottleChange[];
}

interface BrandRow {
  brand_id: string;
  daily: string | null;
  pacing: number;
}

/**
 * Paces budgets (docs: "Pacing"): each tick computes, for every paced brand, the throttle of its
 * day (pacing-controller.ts, on the brand's target curve) and of each campaign's cap (the lower of
 * its daily cap and its lifetime budget's share of today), and publishes a campaign's throttle
 * (the lower of the two) when it moved by a step, reached 0 or 1, or is the first of a new local
 * day; a brand switched to ACCELERATED gets 1 for every campaign it had throttled.
 *
 * It reads the ledger's totals as committed at the tick (no row locks: the spend path never waits
 * on pacing) and writes only its own tables and the outbox, under one transaction-scoped advisory
 * lock. A SetBudget or spend that commits during a tick is seen by the next one, at most
 * `intervalMs` later: its event then carries a higher sequence, so the campaign service keeps it.
 */
export class PacingLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> = Promise.resolve();
  private stopped = false;

  constructor(private readonly deps: PacingLoopDeps) {}

  start(): void {
    const run = () => {
      this.running = this.tick()
        .then((r) => {
          if (r.published.length > 0) this.deps.logger.debug({ published: r.published.length }, "pacing tick");
        })
        .catch((err: unknown) => this.deps.logger.warn({ err }, "pacing tick failed; the next one retries"))
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(run, this.deps.intervalMs);
        });
    };
    this.timer = setTimeout(run, this.deps.intervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** One tick, in one transaction. */
  async tick(): Promise<TickReport> {
    const report = await inTransaction(this.deps.pool, async (client): Promise<TickReport> => {
      const { rows: lock } = await client.query<{ ok: boolean }>("select pg_try_advisory_xact_lock($1) as ok", [
        PACING_LOCK_KEY,
      ]);
      if (lock[0]?.ok !== true) return { ran: false, brands: 0, published: [] };
      const nowMs = this.deps.now();
      const { rows: counted } = await client.query<{ n: string }>(
        `insert into pacing_ticks (id, n) values (1, 1) on conflict (id) do update set n = pacing_ticks.n + 1 returning n::text`,
      );
      const tick = BigInt(counted[0]?.n ?? "0");
      const { rows: brands } = await client.query<BrandRow>(
        `select b.brand_id::text, b.daily_limit_micros::text as daily, b.pacing_mode as pacing from budgets b
         where (b.pacing_mode = ${PacingMode.PACED}
                and (b.daily_limit_micros is not null
                     or exists (select 1 from campaign_settings s where s.brand_id = b.brand_id
                                and (s.daily_limit_micros is not null or s.lifetime_limit_micros is not null))))
            or exists (select 1 from pacing_published p where p.brand_id = b.brand_id and p.throttle < 1)`,
      );
      const published: ThrottleChange[] = [];
      for (const b of brands) {
        // One brand's failure (its zone unknown here or to PostgreSQL, the brand service away)
        // skips that brand alone: a savepoint undoes its part, the others are paced.
        await client.query("savepoint pace_brand");
        try {
          published.push(...(await this.paceBrand(client, b, tick, nowMs)));
          await client.query("release savepoint pace_brand");
        } catch (err) {
          this.deps.logger.warn({ err, brandId: b.brand_id }, "pacing skipped the brand this tick");
          await client.query("rollback to savepoint pace_brand");
        }
      }
      return { ran: true, brands: brands.length, published };
    });
    if (report.published.length > 0) this.deps.onEvents();
    return report;
  }

  /** The brand's zone, or undefined when the brand is gone (nothing to pace). */
  private async zoneOf(brandId: string): Promise<string | undefined> {
    try {
      return usableZone((await this.deps.brands.get(brandId)).timeZone, brandId);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /**
   * Paces one brand: observes each campaign's spend (its demand at the throttle ad servers had),
   * computes the throttle of each capped campaign from its cap's curve (a lifetime budget caps
   * today at its share of what is left, lifetime-budget.ts) and the brand's from its
   * day's curve, and publishes each campaign's lower of the two when worth it. A campaign whose
   * last throttle was published at a later instant than this tick's now (a replica whose clock
   * lags) is left alone: a tick never takes a throttle back in time. (A zone moved west, which
   * can take the local day back, is not that: its publication is in the past.)
   */
  private async paceBrand(client: pg.ClientBase, b: BrandRow, tick: bigint, nowMs: number): Promise<ThrottleChange[]> {
    const zone = await this.zoneOf(b.brand_id);
    if (zone === undefined) return [];
    const dayDate = periodsOf(nowMs, zone).day;
    const day = formatDate(dayDate);
    const paced = storedPacing(b.pacing) === PacingMode.PACED;
    const curve = await this.deps.profiles.curve(b.brand_id, dayDate, zone);
    const state = await readBrandState(client, b.brand_id, day);
    const rate = (limit: bigint, spent: bigint) =>
      wantedRate({
        nowMs,
        spent,
        limit,
        targetAt: (t: number) => targetMicros(curve, t, limit),
        dayEndMs: curve.end,
        horizonMs: this.deps.horizonMs,
      });
    const demandOptions = { tauMs: this.deps.horizonMs / 6, maxGapMs: this.deps.horizonMs };
    const campaigns = state.campaigns.map((c) => {
      const spent = c.spentToday;
      const memory = observe(state.memory.get(c.id), { tick, nowMs, day, spent }, demandOptions);
      // A lifetime budget is paced as a cap of today's share of what is left (lifetime-budget.ts).
      const share =
        c.lifetime === null || c.endDate === null
          ? undefined
          : lifetimeShareToday({
              limit: c.lifetime,
              spent: c.lifetimeSpent,
              spentFromToday: c.spentFromToday,
              today: day,
              endDate: c.endDate,
            });
      const limit = c.cap === null ? share : share === undefined || c.cap < share ? c.cap : share;
      const cap = paced && limit !== undefined ? throttleFor(rate(limit, spent), memory.demand) : 1;
      return { id: c.id, memory, cap };
    });
    const brand =
      paced && b.daily !== null
        ? brandThrottle(
            rate(BigInt(b.daily), state.brandSpent),
            campaigns.map((c) => ({ demand: c.memory.demand, cap: c.cap })),
          )
        : 1;
    const published: ThrottleChange[] = [];
    const memories: { scope: string; brandId: string; m: PacingMemory }[] = [];
    for (const c of campaigns) {
      const throttle = paced ? Math.min(brand, c.cap) : 1;
      const pub = state.published.get(c.id);
      if (pub !== undefined && pub.publishedAtMs > nowMs) continue;
      const today = pub?.day === day ? pub.throttle : undefined;
      const publish =
        today === undefined
          ? throttle < 1 || (pub !== undefined && pub.throttle < 1)
          : worthPublishing(today, throttle);
      if (publish) published.push({ brandId: b.brand_id, campaignId: c.id, day, throttle, expiresAtMs: curve.end });
      // What ad servers have from now on: what this tick publishes, else today's last, else 1.
      const applied = publish ? throttle : (today ?? 1);
      if (paced) memories.push({ scope: c.id, brandId: b.brand_id, m: { ...c.memory, applied } });
    }
    await saveMemories(client, memories);
    await writeThrottleEvents(client, this.deps.prefix, published, nowMs);
    return published;
  }
}

/** A brand's figures for one day, as committed: its spend, its campaigns' caps and spend, and pacing's own rows. */
async function readBrandState(client: pg.ClientBase, brandId: string, day: string) {
  // One after another: a client runs one query at a time (pg queues them anyway).
  const spent = await client.query<{ s: string }>(
    `select spent_micros::text as s from budget_periods where brand_id = $1 and kind = ${PeriodKind.DAY} and period_start = $2`,
    [brandId, day],
  );
  const campaigns = await client.query<{
    id: string;
    cap: string | null;
    life: string | null;
    end: string | null;
    today: string | null;
    total: string | null;
    ahead: string | null;
  }>(
    // Every campaign with settings, and any that spent today without (a create event not yet
    // applied): a campaign left out would spend unthrottled while the others make up for it. Not
    // one whose settings are another brand's: pacing's rows are keyed by campaign alone. Its day
    // and lifetime totals are read in this one statement, so they agree with each other.
    `select c.id::text, s.daily_limit_micros::text as cap, s.lifetime_limit_micros::text as life, s.end_date::text as end,
            d.spent_micros::text as today, l.spent_micros::text as total,
            (select sum(a.spent_micros) from campaign_day_spend a where a.brand_id = $1 and a.campaign_id = c.id and a.day >= $2)::text as ahead
     from (select campaign_id as id from campaign_settings where brand_id = $1
           union
           select d.campaign_id from campaign_day_spend d
           where d.brand_id = $1 and d.day = $2 and not exists (select 1 from campaign_settings x where x.campaign_id = d.campaign_id)) c
     left join campaign_settings s on s.campaign_id = c.id and s.brand_id = $1
     left join campaign_day_spend d on d.brand_id = $1 and d.campaign_id = c.id and d.day = $2
     left join campaign_lifetime_spend l on l.brand_id = $1 and l.campaign_id = c.id`,
    [brandId, day],
  );
  const published = await client.query<{ id: string; day: string; throttle: number; at: Date }>(
    "select campaign_id::text as id, day::text, throttle, published_at as at from pacing_published where brand_id = $1",
    [brandId],
  );
  const memory = await client.query<{
    tick: string;
    scope: string;
    day: string;
    at: Date;
    s: string;
    applied: number;
    demand: number | null;
  }>(
    "select tick::text, scope_id::text as scope, day::text, at, spent_micros::text as s, applied, demand from pacing_memory where brand_id = $1",
    [brandId],
  );
  return {
    brandSpent: BigInt(spent.rows[0]?.s ?? "0"),
    campaigns: campaigns.rows.map((r) => ({
      id: r.id,
      cap: r.cap === null ? null : BigInt(r.cap),
      lifetime: r.life === null ? null : BigInt(r.life),
      endDate: r.end,
      spentToday: BigInt(r.today ?? "0"),
      lifetimeSpent: BigInt(r.total ?? "0"),
      // Today's and later days' (spend dated a few minutes ahead): not spent when today began.
      spentFromToday: BigInt(r.ahead ?? "0"),
    })),
    published: new Map(
      published.rows.map((r) => [r.id, { day: r.day, throttle: r.throttle, publishedAtMs: r.at.getTime() }]),
    ),
    memory: new Map(
      memory.rows.map((r): [string, PacingMemory] => [
        r.scope,
        {
          tick: BigInt(r.tick),
          atMs: r.at.getTime(),
          day: r.day,
          spent: BigInt(r.s),
          applied: r.applied,
          demand: r.demand,
        },
      ]),
    ),
  };
}

async function saveMemories(
  client: pg.ClientBase,
  memories: { scope: string; brandId: string; m: PacingMemory }[],
): Promise<void> {
  if (memories.length === 0) return;
  await client.query(
    `insert into pacing_memory (scope_id, brand_id, day, at, spent_micros, applied, demand, tick)
     select * from unnest($1::uuid[], $2::uuid[], $3::date[], $4::timestamptz[], $5::bigint[], $6::float8[], $7::float8[], $8::bigint[])
     on conflict (scope_id) do update set day = excluded.day, at = excluded.at, spent_micros = excluded.spent_micros,
       applied = excluded.applied, demand = excluded.demand, tick = excluded.tick`,
    [
      memories.map((x) => x.scope),
      memories.map((x) => x.brandId),
      memories.map((x) => x.m.day),
      memories.map((x) => new Date(x.m.atMs)),
      memories.map((x) => x.m.spent.toString()),
      memories.map((x) => x.m.applied),
      memories.map((x) => x.m.demand),
      memories.map((x) => x.m.tick.toString()),
    ],
  );
}
