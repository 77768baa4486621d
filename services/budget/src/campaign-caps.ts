import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { JsMsg } from "@nats-io/jetstream";
import type pg from "pg";
import { isSettingsChange } from "@adbudget/campaign-service/event-contract";
import {
  decodeOrSkip,
  inTransaction,
  nextOutboxIds,
  NotFoundError,
  uuidv7,
  writeOutbox,
  type Actor,
  type Logger,
  type OutboxMessage,
} from "@adbudget/kit";
import {
  BudgetEventCause,
  BudgetEventType,
  CampaignCapEventSchema,
} from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { CampaignStateChangedEventSchema } from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { addDays, formatDate, parseDate, periodsOf } from "@adbudget/time";
import type { BrandDirectory } from "./brand-directory.js";
import { OUTBOX_CHANNEL } from "./events.js";
import { micros } from "./period-rules.js";

/** A campaign's day (or lifetime) total reaching its cap, or having room again, to publish. */
export interface CapChange {
  brandId: string;
  campaignId: string;
  /** The brand's local day, "YYYY-MM-DD"; null: the campaign's lifetime budget. */
  day: string | null;
  exhausted: boolean;
  spent: bigint;
  limit: bigint | null;
  cause: "spend" | "limit";
  /** The call that changed the cap (an UpdateCampaign, named by its campaign event); none for spend. */
  actor?: Actor;
}

/** Subjects: `<prefix>.budget.campaign_exhausted.<brandId>`, `<prefix>.budget.campaign_replenished.<brandId>`. */
export function capSubject(prefix: string, exhausted: boolean, brandId: string): string {
  return `${prefix}.budget.campaign_${exhausted ? "exhausted" : "replenished"}.${brandId}`;
}

/**
 * Writes the cap events to the outbox in the caller's transaction (after the day or lifetime rows
 * are locked); their sequence is the outbox id, so it increases in commit order for every
 * campaign, and is kept as the row's `cap_seq` (`seq` of a lifetime row: what reconciliation
 * hands on with the row's state).
 */
export async function writeCapEvents(
  client: pg.ClientBase,
  prefix: string,
  changes: CapChange[],
  nowMs: number,
): Promise<number> {
  if (changes.length === 0) return 0;
  const ids = await nextOutboxIds(client, changes.length);
  const days = changes.flatMap((c, i) => (c.day === null ? [] : [{ ...c, day: c.day, seq: ids[i] ?? 0n }]));
  const lifetimes = changes.flatMap((c, i) => (c.day === null ? [{ ...c, seq: ids[i] ?? 0n }] : []));
  if (days.length > 0)
    await client.query({
      name: "cap-seq",
      text: `update campaign_day_spend d set cap_seq = u.seq
             from unnest($1::uuid[], $2::uuid[], $3::date[], $4::bigint[]) as u(brand_id, campaign_id, day, seq)
             where d.brand_id = u.brand_id and d.campaign_id = u.campaign_id and d.day = u.day`,
      values: [
        days.map((c) => c.brandId),
        days.map((c) => c.campaignId),
        days.map((c) => c.day),
        days.map((c) => String(c.seq)),
      ],
    });
  if (lifetimes.length > 0)
    await client.query({
      name: "lifetime-seq",
      text: `update campaign_lifetime_spend l set seq = u.seq
             from unnest($1::uuid[], $2::uuid[], $3::bigint[]) as u(brand_id, campaign_id, seq)
             where l.brand_id = u.brand_id and l.campaign_id = u.campaign_id`,
      values: [
        lifetimes.map((c) => c.brandId),
        lifetimes.map((c) => c.campaignId),
        lifetimes.map((c) => String(c.seq)),
      ],
    });
  const messages = changes.map((c, i): OutboxMessage => {
    const eventId = uuidv7(nowMs);
    const payload = toBinary(
      CampaignCapEventSchema,
      create(CampaignCapEventSchema, {
        eventId,
        type: c.exhausted ? BudgetEventType.EXHAUSTED : BudgetEventType.REPLENISHED,
        brandId: c.brandId,
        campaignId: c.campaignId,
        period: c.day === null ? undefined : { kind: PeriodKind.DAY, start: parseDate(c.day) },
        lifetime: c.day === null,
        spentMicros: c.spent,
        limitMicros: c.limit ?? undefined,
        cause: c.cause === "spend" ? BudgetEventCause.SPEND : BudgetEventCause.LIMIT_CHANGE,
        occurTime: timestampFromMs(nowMs),
        sequence: ids[i],
        principal: c.actor?.principal ?? "",
        requestId: c.actor?.requestId ?? "",
      }),
    );
    return { eventId, aggregateId: c.campaignId, subject: capSubject(prefix, c.exhausted, c.brandId), payload };
  });
  await writeOutbox(client, OUTBOX_CHANNEL, messages, nowMs, ids);
  return messages.length;
}

/** A campaign's cap as its event carries it. */
export interface CapSetting {
  campaignId: string;
  brandId: string;
  limit: bigint | null;
  /** Campaign.lifetime_limit_micros; null = none. */
  lifetimeLimit: bigint | null;
  /** Flight dates, "YYYY-MM-DD" in the brand's zone (null = open-ended): spend outside is flagged. */
  startDate: string | null;
  endDate: string | null;
  /** The campaign's version (its etag): orders settings from events delivered out of order. */
  version: bigint;
}

/**
 * Stores a campaign's cap, lifetime limit and flight dates and, when the cap changed, writes it
 * into every day row of the campaign that has not ended and judges each, in one transaction (when
 * the lifetime limit changed, the same with its lifetime row: applyLifetimeLimit). The days not
 * ended are today and later ones (tomorrow's, opened by spend dated a few minutes ahead); today's and
 * tomorrow's rows are created (at 0) if missing, so that a spend of either day finds a row this
 * change holds locked and judges by the cap it wrote, never by one it read before (the spend
 * statement never writes a row's cap). A row at or past the new cap that was not is exhausted;
 * one below it that was has room again; either publishes a cap event. An older version than the
 * one stored changes nothing.
 *
 * Lock order (the ledger's): the campaign's settings row, then its day rows in day order, then its
 * lifetime row. The spend statement locks no settings row, and takes period rows before day rows
 * and day rows before lifetime rows; this takes no period row: the two never wait on each other
 * in a cycle.
 */
export async function applyCapSetting(
  pool: pg.Pool,
  prefix: string,
  s: CapSetting,
  days: { today: string; tomorrow: string },
  nowMs: number,
  actor: Actor,
): Promise<CapChange[]> {
  return inTransaction(pool, async (client) => {
    // The row first (version 0, no cap, if the campaign is new to the ledger), then its lock: a
    // lock on a row that does not exist yet locks nothing, and two replicas applying the first two
    // versions of a new campaign at once let the older one write last.
    await client.query(
      "insert into campaign_settings (campaign_id, brand_id, version, updated_at) values ($1, $2, 0, $3) on conflict do nothing",
      [s.campaignId, s.brandId, new Date(nowMs)],
    );
    const { rows: before } = await client.query<{ lim: string | null; life: string | null; version: string }>(
      `select daily_limit_micros::text as lim, lifetime_limit_micros::text as life, version::text
       from campaign_settings where campaign_id = $1 for update`,
      [s.campaignId],
    );
    const prev = before[0];
    if (prev === undefined || BigInt(prev.version) >= s.version) return [];
    await client.query(
      `update campaign_settings set daily_limit_micros = $2, start_date = $3, end_date = $4, version = $5, updated_at = $6,
         lifetime_limit_micros = $7
       where campaign_id = $1`,
      [
        s.campaignId,
        s.limit?.toString() ?? null,
        s.startDate,
        s.endDate,
        s.version.toString(),
        new Date(nowMs),
        s.lifetimeLimit?.toString() ?? null,
      ],
    );
    const changes = micros(prev.lim) === s.limit ? [] : await applyDailyLimit(client, s, days, actor);
    if (micros(prev.life) !== s.lifetimeLimit) changes.push(...(await applyLifetimeLimit(client, s, actor)));
    await writeCapEvents(client, prefix, changes, nowMs);
    return changes;
  });
}

/** The cap written into the campaign's day rows not yet ended (applyCapSetting), each judged. */
async function applyDailyLimit(
  client: pg.ClientBase,
  s: CapSetting,
  days: { today: string; tomorrow: string },
  actor: Actor,
): Promise<CapChange[]> {
  await client.query(
    `insert into campaign_day_spend (brand_id, campaign_id, day, spent_micros, event_count, limit_micros)
       select $1, $2, d, 0, 0, $4 from unnest($3::date[]) as d order by d
       on conflict do nothing`,
    [s.brandId, s.campaignId, [days.today, days.tomorrow], s.limit?.toString() ?? null],
  );
  const { rows } = await client.query<{ day: string; spent: string; cap_exhausted: boolean }>(
    `select day::text, spent_micros::text as spent, cap_exhausted from campaign_day_spend
       where brand_id = $1 and campaign_id = $2 and day >= $3 order by day for update`,
    [s.brandId, s.campaignId, days.today],
  );
  const changes: CapChange[] = [];
  for (const r of rows) {
    const spent = BigInt(r.spent);
    const exhausted = s.limit !== null && spent >= s.limit;
    if (exhausted !== r.cap_exhausted)
      changes.push({
        brandId: s.brandId,
        campaignId: s.campaignId,
        day: r.day,
        exhausted,
        spent,
        limit: s.limit,
        cause: "limit",
        actor,
      });
  }
  await client.query(
    `update campaign_day_spend set limit_micros = $4, cap_exhausted = $5::bigint is not null and spent_micros >= $5::bigint, cap_crossed = false
       where brand_id = $1 and campaign_id = $2 and day >= $3`,
    [s.brandId, s.campaignId, days.today, s.limit?.toString() ?? null, s.limit?.toString() ?? null],
  );
  return changes;
}

/**
 * The lifetime limit written into the campaign's lifetime row (created at 0 if the campaign never
 * spent, so a first spend finds a row this change holds locked) and judged: at or past the new
 * limit and not before is exhausted, below it and exhausted before has room again.
 */
async function applyLifetimeLimit(client: pg.ClientBase, s: CapSetting, actor: Actor): Promise<CapChange[]> {
  const limit = s.lifetimeLimit?.toString() ?? null;
  await client.query(
    `insert into campaign_lifetime_spend (brand_id, campaign_id, spent_micros, event_count, limit_micros)
     values ($1, $2, 0, 0, $3) on conflict do nothing`,
    [s.brandId, s.campaignId, limit],
  );
  const { rows } = await client.query<{ spent: string; exhausted: boolean }>(
    `select spent_micros::text as spent, exhausted from campaign_lifetime_spend
     where brand_id = $1 and campaign_id = $2 for update`,
    [s.brandId, s.campaignId],
  );
  const row = rows[0];
  if (row === undefined) return [];
  const spent = BigInt(row.spent);
  const exhausted = s.lifetimeLimit !== null && spent >= s.lifetimeLimit;
  await client.query(
    `update campaign_lifetime_spend set limit_micros = $3, exhausted = $4, crossed = false
     where brand_id = $1 and campaign_id = $2`,
    [s.brandId, s.campaignId, limit, exhausted],
  );
  if (exhausted === row.exhausted) return [];
  const { brandId, campaignId, lifetimeLimit } = s;
  return [{ brandId, campaignId, day: null, exhausted, spent, limit: lifetimeLimit, cause: "limit", actor }];
}

/**
 * The durable consumer of campaign events: keeps campaign_settings in step with the campaigns'
 * `daily_limit_micros` and flight dates, and judges the spend of every day not yet ended
 * whenever a cap changes (a lowered cap may stop the campaign at once, a raised or removed one
 * frees it). Serving-state changes carry no new
 * settings and are skipped; a deleted campaign's cap is removed.
 */
export function campaignEventHandler(deps: {
  pool: pg.Pool;
  brands: BrandDirectory;
  prefix: string;
  logger: Logger;
  now: () => number;
  onEvents: () => void;
}) {
  return async (msg: JsMsg): Promise<void> => {
    const event = decodeOrSkip(CampaignStateChangedEventSchema, msg, deps.logger, "campaign event");
    if (event === undefined) return;
    const c = event.campaign;
    if (c === undefined || !isSettingsChange(event)) return;
    let zone: string;
    try {
      zone = (await deps.brands.get(c.brandId)).timeZone;
    } catch (err) {
      if (err instanceof NotFoundError) return; // a brand that is gone has no day to judge
      throw err;
    }
    const nowMs = deps.now();
    const version = /^v\d+$/.test(c.etag) ? BigInt(c.etag.slice(1)) : 0n;
    const limit = event.deleted ? null : (c.dailyLimitMicros ?? null);
    const lifetimeLimit = event.deleted ? null : (c.lifetimeLimitMicros ?? null);
    const today = periodsOf(nowMs, zone).day;
    const changes = await applyCapSetting(
      deps.pool,
      deps.prefix,
      {
        campaignId: c.id,
        brandId: c.brandId,
        limit,
        lifetimeLimit,
        version,
        startDate: c.startDate === undefined ? null : formatDate(c.startDate),
        endDate: c.endDate === undefined ? null : formatDate(c.endDate),
      },
      { today: formatDate(today), tomorrow: formatDate(addDays(today, 1)) },
      nowMs,
      { principal: event.principal, requestId: event.requestId },
    );
    for (const change of changes) {
      deps.logger.info(
        {
          campaignId: c.id,
          day: change.day ?? "lifetime",
          exhausted: change.exhausted,
          spent: change.spent.toString(),
        },
        "campaign cap changed the campaign's state",
      );
    }
    if (changes.length > 0) deps.onEvents();
  };
}
