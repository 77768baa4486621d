import { addDays, startOfDay, wallTime, type CalendarDate } from "@adbudget/time";

/*
 * The target curve of a paced day: what share of the day's limit should be spent by each instant
 * of the brand's local day. Pure functions of the zone's rules, so a DST day is handled by
 * construction: the day is cut into its real hours (23 on a spring-forward day, 25 on a
 * fall-back day, 23.5 in a half-hour zone), each weighted by the profile of its local hour.
 */

/** Weights of the 24 local hours (index = local hour 0-23), each >= 0, not all 0. */
export type HourProfile = readonly number[];

const HOUR_MS = 3_600_000;

/** Every hour alike: the uniform curve (spend spread evenly over the day's real length). */
export const UNIFORM_PROFILE: HourProfile = Array.from({ length: 24 }, () => 1);

/**
 * Share of the learned profile in the curve: the rest is uniform. A quarter uniform keeps every
 * hour's slope above 1% of the day (an hour with no spend in the history still gets some target, so
 * a campaign that starts serving at night is not throttled to nothing), and damps the
 * self-reinforcement of a history that was itself throttled or cut off by an exhausted budget.
 */
const LEARNED_SHARE = 0.75;

/**
 * The profile learned from a brand's spend per local hour over its recent days (any unit, summed
 * over the days): `hourTotals[h]` is the spend whose local hour was h. No spend at all gives the
 * uniform profile.
 */
export function learnedProfile(hourTotals: readonly bigint[]): HourProfile {
  const total = hourTotals.reduce((a, b) => a + b, 0n);
  if (total <= 0n) return UNIFORM_PROFILE;
  return Array.from({ length: 24 }, (_, h) => {
    // Shares to 1e-6: exact enough for weights, and bigint-safe for any total.
    const share = Number(((hourTotals[h] ?? 0n) * 1_000_000n) / total) / 1_000_000;
    return LEARNED_SHARE * share * 24 + (1 - LEARNED_SHARE);
  });
}

/** One slice of a local day: a real hour (the last one may be shorter) and its local hour. */
export interface DaySlice {
  from: number;
  to: number;
  weight: number;
}

/** A day's target curve: its slices and their total weight. */
export interface DayCurve {
  start: number;
  end: number;
  slices: readonly DaySlice[];
  total: number;
}

/**
 * The curve of the local day `day` in `zone`: real hours from its first instant, each weighted by
 * the profile's weight for the local hour it starts in, times its length in hours.
 */
export function dayCurve(day: CalendarDate, zone: string, profile: HourProfile): DayCurve {
  const start = startOfDay(day, zone);
  const end = startOfDay(addDays(day, 1), zone);
  const slices: DaySlice[] = [];
  for (let from = start; from < end; from += HOUR_MS) {
    const to = Math.min(from + HOUR_MS, end);
    const hour = wallTime(from, zone).hour % 24;
    slices.push({ from, to, weight: (profile[hour] ?? 0) * ((to - from) / HOUR_MS) });
  }
  const total = slices.reduce((a, s) => a + s.weight, 0);
  if (total > 0) return { start, end, slices, total };
  // A profile that weighs none of this day's hours: spread the day evenly.
  const even = slices.map((s) => ({ ...s, weight: (s.to - s.from) / HOUR_MS }));
  return { start, end, slices: even, total: even.reduce((a, s) => a + s.weight, 0) };
}

/** Share of the day's target reached at `instant`: 0 at the day's start, 1 at its end, non-decreasing. */
export function targetShare(curve: DayCurve, instant: number): number {
  if (instant <= curve.start) return 0;
  if (instant >= curve.end) return 1;
  let done = 0;
  for (const s of curve.slices) {
    if (instant >= s.to) done += s.weight;
    else {
      if (instant > s.from) done += s.weight * ((instant - s.from) / (s.to - s.from));
      break;
    }
  }
  return Math.min(1, done / curve.total);
}

/** The target spend at `instant` for `limit`, in whole micros (rounded down). */
export function targetMicros(curve: DayCurve, instant: number, limit: bigint): bigint {
  const share = targetShare(curve, instant);
  // Parts per million of the limit: integer arithmetic on the money, the share only picks the part.
  return (limit * BigInt(Math.round(share * 1_000_000))) / 1_000_000n;
}
