import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";

/** Everything that decides whether a campaign serves. */
export interface ServingInputs {
  /** The user's intent (PauseCampaign / ResumeCampaign). */
  enabled: boolean;
  /** Inside the daypart schedule now (true without a schedule). */
  inDaypart: boolean;
  /** The brand's current day is exhausted. */
  dayExhausted: boolean;
  /** The brand's current month is exhausted. */
  monthExhausted: boolean;
  brandArchived: boolean;
}

export interface ServingState {
  serving: boolean;
  /** Every reason that applies, in this fixed order. */
  reasons: PauseReason[];
}

/**
 * The serving rule of DESIGN.md as one pure function: a campaign serves iff no reason applies,
 * and `reasons` lists every one that does (not only the first), so a campaign paused by the
 * user and by budget shows both and resumes only when both are gone.
 */
export function servingState(i: ServingInputs): ServingState {
  const reasons: PauseReason[] = [];
  if (!i.enabled) reasons.push(PauseReason.PAUSED_BY_USER);
  if (!i.inDaypart) reasons.push(PauseReason.OUTSIDE_DAYPART);
  if (i.dayExhausted) reasons.push(PauseReason.DAILY_BUDGET_EXHAUSTED);
  if (i.monthExhausted) reasons.push(PauseReason.MONTHLY_BUDGET_EXHAUSTED);
  if (i.brandArchived) reasons.push(PauseReason.BRAND_ARCHIVED);
  return { serving: reasons.length === 0, reasons };
}

export function sameState(a: ServingState, b: ServingState): boolean {
  return a.serving === b.serving && a.reasons.length === b.reasons.length && a.reasons.every((r, i) => r === b.reasons[i]);
}

/**
 * A brand's budget flag of one kind: which period it is about and whether that period is
 * exhausted. Flags carry their period so that late and reordered signals are harmless.
 */
export interface PeriodFlag {
  /** "YYYY-MM-DD" of the period start, or null before any signal. */
  period: string | null;
  exhausted: boolean;
  /** Highest event sequence applied for this period (0 after a reset). */
  seq: bigint;
}

export type FlagSignal =
  | { kind: "event"; period: string; exhausted: boolean; seq: bigint }
  | { kind: "open"; period: string };

/**
 * Applies a budget signal to a flag, order-insensitively:
 * - an event for an older period than the flag's changes nothing (a late signal never pauses a
 *   campaign in a newer period);
 * - an event for a newer period replaces the flag;
 * - an event for the same period applies only if its sequence is higher (replays and
 *   reordering within a period change nothing twice);
 * - opening a period (a reset) clears the flag only if it belongs to an earlier period.
 * Returns the same object when nothing changes.
 */
export function applySignal(flag: PeriodFlag, signal: FlagSignal): PeriodFlag {
  const cmp = flag.period === null ? 1 : signal.period < flag.period ? -1 : signal.period > flag.period ? 1 : 0;
  if (signal.kind === "open") {
    return cmp > 0 ? { period: signal.period, exhausted: false, seq: 0n } : flag;
  }
  if (cmp < 0) return flag;
  if (cmp === 0 && signal.seq <= flag.seq) return flag;
  return { period: signal.period, exhausted: signal.exhausted, seq: signal.seq };
}
