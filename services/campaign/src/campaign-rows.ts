import type { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import type { FlightPhase } from "@adbudget/time";
import { uuidv7 } from "@adbudget/kit";
import { capExhaustedOn, capFlagsFromJson, type CapFlag, type CapFlags } from "./cap-flags.js";
import type { StoredSchedule } from "./schedule.js";
import { servingState, type ServingState } from "./serving-state.js";

/*
 * The rows of the campaign service's tables as the store reads and writes them: their shapes, the
 * columns selected and their mapping, and the pure derivations from them (serving state, audit row).
 */

/** Day or month (the enum's values 1 and 2 are what the tables store). */
export type Kind = PeriodKind.DAY | PeriodKind.MONTH;

export interface CampaignRow {
  id: string;
  brandId: string;
  name: string;
  enabled: boolean;
  schedule: StoredSchedule | null;
  inDaypart: boolean;
  daypartAsOf: Date | null;
  /** When the daypart or flight state next flips (next-change.ts); null when neither applies. */
  nextChangeAt: Date | null;
  serving: boolean;
  reasons: PauseReason[];
  version: bigint;
  /** Increases with every schedule change; the daypart clock names the one it computed from. */
  scheduleVersion: bigint;
  createdAt: Date;
  updatedAt: Date;
  deletedAt: Date | null;
  /** Flight dates, "YYYY-MM-DD" in the brand's zone; null = open-ended. */
  startDate: string | null;
  endDate: string | null;
  /** The flight phase the last write applied (migration 0006): the clock moves it at its instants. */
  flight: FlightPhase;
  /** The cap on the campaign's spend per brand day; null = none. */
  dailyLimitMicros: bigint | null;
  /** The budget service's cap events, per brand day (cap-flags.ts). */
  capFlags: CapFlags;
  /** The pacing throttle in [0, 1] (throttle.ts); 1 until the budget service paces the campaign. */
  throttle: number;
  /** The sequence of the throttle event it came from (0n: none yet). */
  throttleSeq: bigint;
  /** When the throttle stops applying (the end of its brand day); null: never paced. */
  throttleUntil: Date | null;
  /** The campaign's budget over its life; null = none. */
  lifetimeLimitMicros: bigint | null;
  /** The budget service's lifetime events (cap-flags.ts). */
  lifetimeFlag: CapFlag;
}

export interface BrandStateRow {
  brandId: string;
  archived: boolean;
  timeZone: string;
  brandVersion: bigint;
  /** The brand's current day and month, and whether each is exhausted (budget-flags.ts). */
  dayPeriod: string | null;
  dayExhausted: boolean;
  monthPeriod: string | null;
  monthExhausted: boolean;
}

export interface StateChangeRow {
  id: string;
  campaignId: string;
  brandId: string;
  fromServing: boolean;
  toServing: boolean;
  fromReasons: PauseReason[];
  toReasons: PauseReason[];
  cause: string;
  sourceId: string;
  principal: string;
  changedAt: Date;
}

/** What a transaction changed, for the outbox (and through it, watchers). */
export interface CampaignChange {
  campaign: CampaignRow;
  /** Set when serving or the reasons changed. */
  stateChange?: StateChangeRow;
  deleted?: boolean;
  /** Who made it when a call did (its event names them: a consumer records them in turn). */
  principal?: string;
  /** The request id of that call. */
  requestId?: string;
  /** Only the pacing throttle changed: the event says so, and settings consumers skip it. */
  throttleOnly?: boolean;
}

/** Why and by whom a change happens: recorded in the audit log. */
export interface Cause {
  cause: string;
  sourceId: string;
  /**
   * The caller's token subject when a call caused it, or the caller an event names as its cause
   * (a manager's SetBudget, an admin's ArchiveBrand); "" when none is known.
   */
  principal?: string;
  /** The request id of that call, when there was one. */
  requestId?: string;
}

export const CAMPAIGN_COLUMNS = `id::text, brand_id::text, name, enabled, schedule, in_daypart, daypart_as_of, serving,
  pause_reasons, version::text, schedule_version::text, created_at, updated_at, deleted_at, next_change_at,
  start_date::text, end_date::text, flight, daily_limit_micros::text, cap_flags, throttle,
  throttle_seq::text, throttle_until, lifetime_limit_micros::text, lifetime_exhausted, lifetime_seq::text`;

export interface RawCampaign {
  id: string;
  brand_id: string;
  name: string;
  enabled: boolean;
  schedule: StoredSchedule | null;
  in_daypart: boolean;
  daypart_as_of: Date | null;
  serving: boolean;
  pause_reasons: number[];
  version: string;
  schedule_version: string;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  next_change_at: Date | null;
  start_date: string | null;
  end_date: string | null;
  flight: number;
  daily_limit_micros: string | null;
  cap_flags: unknown;
  throttle: number;
  throttle_seq: string;
  throttle_until: Date | null;
  lifetime_limit_micros: string | null;
  lifetime_exhausted: boolean;
  lifetime_seq: string;
}

export function toCampaign(r: RawCampaign): CampaignRow {
  return {
    id: r.id,
    brandId: r.brand_id,
    name: r.name,
    enabled: r.enabled,
    schedule: r.schedule,
    inDaypart: r.in_daypart,
    daypartAsOf: r.daypart_as_of,
    nextChangeAt: r.next_change_at,
    serving: r.serving,
    reasons: r.pause_reasons,
    version: BigInt(r.version),
    scheduleVersion: BigInt(r.schedule_version),
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    deletedAt: r.deleted_at,
    startDate: r.start_date,
    endDate: r.end_date,
    flight: r.flight,
    dailyLimitMicros: r.daily_limit_micros === null ? null : BigInt(r.daily_limit_micros),
    capFlags: capFlagsFromJson(r.cap_flags),
    throttle: r.throttle,
    throttleSeq: BigInt(r.throttle_seq),
    throttleUntil: r.throttle_until,
    lifetimeLimitMicros: r.lifetime_limit_micros === null ? null : BigInt(r.lifetime_limit_micros),
    lifetimeFlag: { exhausted: r.lifetime_exhausted, seq: BigInt(r.lifetime_seq) },
  };
}

/** A brand's state with the exhaustion flags of its current day and month. */
export const SELECT_BRAND_STATE = `select s.brand_id::text, s.archived, s.time_zone, s.brand_version::text, s.day_period::text,
    coalesce(d.exhausted, false) as day_exhausted, s.month_period::text, coalesce(m.exhausted, false) as month_exhausted
  from brand_state s
  left join budget_flags d on d.brand_id = s.brand_id and d.kind = ${PeriodKind.DAY} and d.period_start = s.day_period
  left join budget_flags m on m.brand_id = s.brand_id and m.kind = ${PeriodKind.MONTH} and m.period_start = s.month_period`;

export interface RawBrandState {
  brand_id: string;
  archived: boolean;
  time_zone: string;
  brand_version: string;
  day_period: string | null;
  day_exhausted: boolean;
  month_period: string | null;
  month_exhausted: boolean;
}

export function toBrandState(r: RawBrandState): BrandStateRow {
  return {
    brandId: r.brand_id,
    archived: r.archived,
    timeZone: r.time_zone,
    brandVersion: BigInt(r.brand_version),
    dayPeriod: r.day_period,
    dayExhausted: r.day_exhausted,
    monthPeriod: r.month_period,
    monthExhausted: r.month_exhausted,
  };
}

/**
 * The serving inputs of a campaign given its brand's state. The cap pauses it only by the flag
 * of the brand's current day: the day's reset frees it. The lifetime flag has no day.
 */
export function stateOf(
  c: Pick<CampaignRow, "enabled" | "inDaypart" | "flight" | "capFlags" | "lifetimeFlag">,
  b: BrandStateRow | undefined,
): ServingState {
  return servingState({
    enabled: c.enabled,
    inDaypart: c.inDaypart,
    dayExhausted: b?.dayExhausted ?? false,
    monthExhausted: b?.monthExhausted ?? false,
    brandArchived: b?.archived ?? false,
    flight: c.flight,
    capExhausted: capExhaustedOn(c.capFlags, b?.dayPeriod ?? null),
    lifetimeExhausted: c.lifetimeFlag.exhausted,
  });
}

/** The audit row of one serving-state change. */
export function auditRow(
  c: Pick<CampaignRow, "id" | "brandId">,
  from: ServingState,
  to: ServingState,
  cause: Cause,
  now: Date,
): StateChangeRow {
  return {
    id: uuidv7(now.getTime()),
    campaignId: c.id,
    brandId: c.brandId,
    fromServing: from.serving,
    toServing: to.serving,
    fromReasons: from.reasons,
    toReasons: to.reasons,
    cause: cause.cause,
    sourceId: cause.sourceId,
    principal: cause.principal ?? "",
    changedAt: now,
  };
}
