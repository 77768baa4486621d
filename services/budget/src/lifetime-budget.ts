/**
 * Lifetime budgets (Campaign.lifetime_limit_micros), the pure rules: what a paced campaign may
 * spend today out of what is left of its lifetime, and when the lifetime runs out at its recent
 * pace. The spend path judges exhaustion (spend-statement.ts); these only pace and forecast.
 */
import { addDays, parseDate, startOfDay, utcMs } from "@adbudget/time";
import { projectedExhaustion } from "./forecast.js";

const DAY_MS = 86_400_000;
/** 9999-12-31T23:59:59.999Z, the last instant a google.protobuf.Timestamp holds: no projection passes it. */
const LAST_TIMESTAMP_MS = 253_402_300_799_999;

/** Local days from `from` to `to`, both "YYYY-MM-DD", both counted (0 when `to` is before `from`). */
export function daysThrough(from: string, to: string): number {
  const a = parseDate(from);
  const b = parseDate(to);
  // Calendar dates as UTC midnights: every day is 24 h there, whatever the brand's zone.
  const days = (utcMs(b.year, b.month, b.day) - utcMs(a.year, a.month, a.day)) / DAY_MS + 1;
  return Math.max(0, days);
}

export interface LifetimeShareInput {
  limit: bigint;
  /** The campaign's spend over its life, today's included. */
  spent: bigint;
  /**
   * Its spend counted toward the brand's local day `today` and later days (spend dated a few
   * minutes ahead): what was not spent yet when today began. Late spend of earlier days is not in
   * it: that money was spent before today.
   */
  spentFromToday: bigint;
  /** The brand's local day, "YYYY-MM-DD". */
  today: string;
  /** The flight's last day, "YYYY-MM-DD" (a lifetime limit requires one). */
  endDate: string;
}

/**
 * Today's share of a lifetime budget, as a cap on today's spend for pacing: what was left when the
 * day began, spread evenly over the flight's days left, today included, rounded down. So an
 * under-spent day leaves more for each later day, an over-spent one less, and the last day may
 * spend all that is left. Fixed for the day (today's own spend does not move it), so the day's
 * curve is paced against one limit. Undefined after the flight's last day: nothing is paced then.
 */
export function lifetimeShareToday(i: LifetimeShareInput): bigint | undefined {
  const daysLeft = daysThrough(i.today, i.endDate);
  if (daysLeft === 0) return undefined;
  // Never below 0: a lifetime total behind its day rows (a replica of the version before lifetime
  // budgets recorded spend, see migration 0012) must not read as money given back.
  const spentBefore = i.spent > i.spentFromToday ? i.spent - i.spentFromToday : 0n;
  const leftAtDayStart = i.limit - spentBefore;
  return leftAtDayStart <= 0n ? 0n : leftAtDayStart / BigInt(daysLeft);
}

export interface LifetimeForecastInput {
  limit: bigint | null;
  spent: bigint;
  exhausted: boolean;
  /** The campaign's spend counted toward the local days from `sinceDay` through today. */
  recentSpent: bigint;
  /** The first of those days: the brand's yesterday, or the flight's first day if later. */
  sinceDay: string;
  /** The flight's last day, or null (then no end bounds the projection). */
  endDate: string | null;
  nowMs: number;
  zone: string;
}

/**
 * When the lifetime budget runs out if the campaign keeps its recent pace (its spend since the
 * start of `sinceDay`, spread over the time since), rounded up to the millisecond; undefined
 * without a limit, when exhausted, with no recent spend, or when that instant is not before the
 * end of the flight (the first instant after its last day).
 */
export function lifetimeExhaustion(f: LifetimeForecastInput): number | undefined {
  if (f.limit === null) return undefined;
  const sinceMs = startOfDay(parseDate(f.sinceDay), f.zone);
  // Bounded by the last instant a Timestamp holds: the end of a flight ending 9999-12-31 west of
  // UTC is hours past it.
  const flightEndMs =
    f.endDate === null ? Number.POSITIVE_INFINITY : startOfDay(addDays(parseDate(f.endDate), 1), f.zone);
  const endMs = Math.min(flightEndMs, LAST_TIMESTAMP_MS + 1);
  return projectedExhaustion({
    remaining: f.limit - f.spent,
    exhausted: f.exhausted || f.spent >= f.limit,
    spentInWindow: f.recentSpent,
    windowMs: f.nowMs - sinceMs,
    nowMs: f.nowMs,
    periodEndMs: endMs,
  });
}
