import type pg from "pg";
import { inTransaction, NotFoundError, type Logger, type Now } from "@adbudget/kit";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, periodsOf } from "@adbudget/time";
import type { BrandDirectory } from "./brand-directory.js";
import { storedPacing } from "./budget-patch.js";
import { pacingStep, worthPublishing, type PacingMemory } from "./pacing-controller.js";
import { targetMicros, type DayCurve } from "./pacing-curve.js";
import { writeThrottleEvents, type ThrottleChange } from "./pacing-events.js";
import type { PacingProfiles } from "./pacing-profile.js";

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
 * day (pacing-controller.ts, on the brand's target curve) and of each campaign's cap, and
 * publishes a campaign's throttle (the lower of the two) when it moved by a step, reached 0 or 1,
 * or is the first of a new local day; a brand switched to ACCELERATED gets 1 for every campaign
 * it had throttled.
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
      const { rows: brands } = await client.query<BrandRow>(
        `select b.brand_id::text, b.daily_limit_micros::text as daily, b.pacing_mode as pacing from budgets b
         where (b.pacing_mode = ${PacingMode.PACED}
                and (b.daily_limit_micros is not null
                     or exists (select 1 from campaign_settings s where s.brand_id = b.brand_id and s.daily_limit_micros is not null)))
            or exists (select 1 from pacing_published p where p.brand_id = b.brand_id and p.throttle < 1)`,
      );
      const published: ThrottleChange[] = [];
      const memories: { scope: string; brandId: string; m: PacingMemory }[] = [];
      for (const b of brands) {
        const zone = await this.zoneOf(b.brand_id);
        if (zone === undefined) continue;
        const out = await this.paceBrand(client, b, zone, nowMs);
        published.push(...out.published);
        memories.push(...out.memories);
      }
      await saveMemories(client, memories, nowMs);
      await writeThrottleEvents(client, this.deps.prefix, published, nowMs);
      return { ran: true, brands: brands.length, published };
    });
    if (report.published.length > 0) this.deps.onEvents();
    return report;
  }

  private async zoneOf(brandId: string): Promise<string | undefined> {
    try {
      return (await this.deps.brands.get(brandId)).timeZone;
    } catch (err) {
      if (err instanceof NotFoundError) return undefined; // a brand that is gone has no day to pace
      throw err;
    }
  }

  private async paceBrand(client: pg.ClientBase, b: BrandRow, zone: string, nowMs: number) {
    const dayDate = periodsOf(nowMs, zone).day;
    const day = formatDate(dayDate);
    const paced = storedPacing(b.pacing) === PacingMode.PACED;
    const curve = await this.deps.profiles.curve(b.brand_id, dayDate, zone);
    const state = await readBrandState(client, b.brand_id, day);
    const memories: { scope: string; brandId: string; m: PacingMemory }[] = [];
    const step = (scope: string, limit: bigint, spent: bigint): number => {
      const m = pacingStep(state.memory.get(scope), this.input(curve, nowMs, day, limit, spent));
      memories.push({ scope, brandId: b.brand_id, m });
      return m.throttle;
    };
    const brandThrottle = paced && b.daily !== null ? step(b.brand_id, BigInt(b.daily), state.brandSpent) : 1;
    const published: ThrottleChange[] = [];
    for (const c of state.campaigns) {
      let throttle = paced ? brandThrottle : 1;
      if (paced && c.cap !== null) throttle = Math.min(throttle, step(c.id, c.cap, state.capSpent.get(c.id) ?? 0n));
      const pub = state.published.get(c.id);
      const today = pub?.day === day ? pub.throttle : undefined;
      const publish =
        today === undefined
          ? throttle < 1 || (pub !== undefined && pub.throttle < 1)
          : worthPublishing(today, throttle);
      if (publish) published.push({ brandId: b.brand_id, campaignId: c.id, day, throttle });
    }
    return { published, memories };
  }

  private input(curve: DayCurve, nowMs: number, day: string, limit: bigint, spent: bigint) {
    return {
      nowMs,
      day,
      spent,
      limit,
      targetAt: (t: number) => targetMicros(curve, t, limit),
      dayEndMs: curve.end,
      horizonMs: this.deps.horizonMs,
    };
  }
}

/** A brand's figures for one day, as committed: its spend, its campaigns' caps and spend, and pacing's own rows. */
async function readBrandState(client: pg.ClientBase, brandId: string, day: string) {
  // One after another: a client runs one query at a time (pg queues them anyway).
  const spent = await client.query<{ s: string }>(
    `select spent_micros::text as s from budget_periods where brand_id = $1 and kind = ${PeriodKind.DAY} and period_start = $2`,
    [brandId, day],
  );
  const campaigns = await client.query<{ id: string; cap: string | null }>(
    "select campaign_id::text as id, daily_limit_micros::text as cap from campaign_settings where brand_id = $1",
    [brandId],
  );
  const caps = await client.query<{ id: string; s: string }>(
    "select campaign_id::text as id, spent_micros::text as s from campaign_day_spend where brand_id = $1 and day = $2",
    [brandId, day],
  );
  const published = await client.query<{ id: string; day: string; throttle: number }>(
    "select campaign_id::text as id, day::text, throttle from pacing_published where brand_id = $1",
    [brandId],
  );
  const memory = await client.query<{
    scope: string;
    day: string;
    at: Date;
    s: string;
    throttle: number;
    demand: number | null;
  }>(
    "select scope_id::text as scope, day::text, at, spent_micros::text as s, throttle, demand from pacing_memory where brand_id = $1",
    [brandId],
  );
  return {
    brandSpent: BigInt(spent.rows[0]?.s ?? "0"),
    campaigns: campaigns.rows.map((r) => ({ id: r.id, cap: r.cap === null ? null : BigInt(r.cap) })),
    capSpent: new Map(caps.rows.map((r) => [r.id, BigInt(r.s)])),
    published: new Map(published.rows.map((r) => [r.id, { day: r.day, throttle: r.throttle }])),
    memory: new Map(
      memory.rows.map((r): [string, PacingMemory] => [
        r.scope,
        { atMs: r.at.getTime(), day: r.day, spent: BigInt(r.s), throttle: r.throttle, demand: r.demand },
      ]),
    ),
  };
}

async function saveMemories(
  client: pg.ClientBase,
  memories: { scope: string; brandId: string; m: PacingMemory }[],
  nowMs: number,
): Promise<void> {
  if (memories.length === 0) return;
  await client.query(
    `insert into pacing_memory (scope_id, brand_id, day, at, spent_micros, throttle, demand)
     select * from unnest($1::uuid[], $2::uuid[], $3::date[], $4::timestamptz[], $5::bigint[], $6::float8[], $7::float8[])
     on conflict (scope_id) do update set day = excluded.day, at = excluded.at, spent_micros = excluded.spent_micros,
       throttle = excluded.throttle, demand = excluded.demand`,
    [
      memories.map((x) => x.scope),
      memories.map((x) => x.brandId),
      memories.map((x) => x.m.day),
      memories.map(() => new Date(nowMs)),
      memories.map((x) => x.m.spent.toString()),
      memories.map((x) => x.m.throttle),
      memories.map((x) => x.m.demand),
    ],
  );
}
