import { timestampMs } from "@bufbuild/protobuf/wkt";
import { PauseReason, type Campaign } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";

/**
 * What the cache keeps of a campaign: its answer before and after its next daypart flip. Two
 * booleans and an instant, so a lookup is one comparison and no allocation.
 */
export interface ServingEntry {
  /** Whether it serves until `flipAtMs`. */
  readonly before: boolean;
  /** Whether it serves from `flipAtMs` on. */
  readonly after: boolean;
  /** `next_change_time` in ms since the epoch; +Infinity when it never flips (or has no schedule). */
  readonly flipAtMs: number;
}

/**
 * The earliest instant local midnight starting `date` can be anywhere: 00:00 at UTC+14 (the
 * easternmost zone). A flight starts at the first instant of its start date and ends at the first
 * instant of the day after its end date, in the brand's zone, which the campaign does not carry:
 * a `next_change_time` before this instant cannot be that flight boundary.
 */
export function earliestMidnight(date: { year: number; month: number; day: number }): number {
  return Date.UTC(date.year, date.month - 1, date.day) - 14 * 3_600_000;
}

/**
 * The serving rule of the SDKs (docs/sdk.md, "Switching on time"), one pure function: a
 * campaign serves iff it has no pause reason; at its `next_change_time` its daypart window opens
 * or closes, or its flight starts or ends (the server names the earlier, not which). So:
 * - a serving campaign stops at the instant, whichever boundary it is (a window closing or the
 *   flight ending): every stop is exact;
 * - one kept only by OUTSIDE_DAYPART starts at the instant, unless the instant may be its
 *   flight's end (within 14 h of the day after its end date: the brand's zone is not known here);
 * - one kept only by NOT_STARTED, without a schedule, starts at the instant (its flight start);
 * - any other starts when the clock's write says so, seconds later: never early, for money.
 * A change for another cause that still carries a past `next_change_time` is switched by the same
 * rule, so a late event cannot undo a stop.
 */
export function servingEntry(campaign: Campaign): ServingEntry {
  const reasons = campaign.pauseReasons;
  const before = reasons.length === 0;
  const next = campaign.nextChangeTime;
  if (next === undefined) return { before, after: before, flipAtMs: Number.POSITIVE_INFINITY };
  const flipAtMs = timestampMs(next);
  const only = reasons.length === 1 ? reasons[0] : undefined;
  let after = false;
  if (only === PauseReason.OUTSIDE_DAYPART) {
    const end = campaign.endDate;
    const mayBeFlightEnd =
      end !== undefined && flipAtMs >= earliestMidnight({ year: end.year, month: end.month, day: end.day + 1 });
    after = !mayBeFlightEnd;
  } else if (only === PauseReason.NOT_STARTED) {
    after = (campaign.schedule?.windows.length ?? 0) === 0;
  }
  return { before, after, flipAtMs };
}
/** The answer of `entry` at `nowMs`. */
export function servingAt(entry: ServingEntry, nowMs: number): boolean {
  return nowMs >= entry.flipAtMs ? entry.after : entry.before;
}
