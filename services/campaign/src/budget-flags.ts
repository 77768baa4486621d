import { addDays, formatDate, parseDate } from "@adbudget/time";

/**
 * What the campaign service knows of one kind (day or month) of a brand's budget, as a pure
 * state machine over budget signals.
 *
 * Flags carry the period they belong to, and the brand has one *current* period per kind: the
 * one its campaigns are judged by. A period becomes current when it opens (the reset clock at its
 * first instant, or reconciliation), or when an event of it arrives once it has started by this
 * service's clock in the brand's zone (a reset that is late must not delay an exhaustion of
 * today). An event of a period that has not started yet (spend dated a few minutes ahead, a limit
 * lowered for tomorrow) is kept for that period and pauses nothing until it opens; an event of a
 * period before the current one is kept for a while (retainedFrom) and judges nothing.
 *
 * Within a period, the state with the highest sequence wins (the budget service's per-brand
 * event sequence; an opening carries the sequence of the period's last event), so replays,
 * redeliveries and reordering change nothing twice: for a fixed "today", any order of the same
 * signals ends in the same state.
 */

export interface PeriodFlag {
  exhausted: boolean;
  /** Highest budget sequence applied for the period (0: known without an event). */
  seq: bigint;
}

export interface FlagState {
  /** The current period ("YYYY-MM-DD" of its first day), or null before any. */
  current: string | null;
  /** Flags of the current period and of later ones known early. */
  flags: ReadonlyMap<string, PeriodFlag>;
}

export type BudgetSignal =
  /** A budget event (exhausted or replenished) of a period. */
  | { kind: "event"; period: string; exhausted: boolean; seq: bigint }
  /** A period opens, with the budget service's state of it at that moment. */
  | { kind: "open"; period: string; exhausted: boolean; seq: bigint };

export const EMPTY_FLAGS: FlagState = { current: null, flags: new Map() };

/** Day or month: the two kinds of budget periods (their period strings are "YYYY-MM-DD" of the first day). */
export type PeriodKindName = "day" | "month";

/**
 * The oldest period whose flag is kept while `current` is the current one: two days, or the
 * month before. A brand's zone may move west until its first spend, which moves its current day
 * back: by up to two dates (00:30 on the 12th in Kiritimati, UTC+14, is 23:30 on the 10th in
 * Pago Pago, UTC-11), or its month on the 1st; the flags of that day must be there when it does (the clock may have opened it before the zone change reached
 * this service). Anything older can never be current again.
 */
export function retainedFrom(kind: PeriodKindName, current: string): string {
  const d = parseDate(current);
  if (kind === "day") return formatDate(addDays(d, -2));
  return formatDate(
    d.month === 1 ? { year: d.year - 1, month: 12, day: 1 } : { year: d.year, month: d.month - 1, day: 1 },
  );
}

/** The flags kept once `current` is current (retainedFrom). */
function pruned(
  flags: ReadonlyMap<string, PeriodFlag>,
  kind: PeriodKindName,
  current: string,
): ReadonlyMap<string, PeriodFlag> {
  const floor = retainedFrom(kind, current);
  const kept = new Map([...flags].filter(([period]) => period >= floor));
  return kept.size === flags.size ? flags : kept;
}

/** The flag of `period` set to `flag` (the same map when it is that already). */
function withFlag(
  flags: ReadonlyMap<string, PeriodFlag>,
  period: string,
  flag: PeriodFlag,
): ReadonlyMap<string, PeriodFlag> {
  const old = flags.get(period);
  if (old !== undefined && old.exhausted === flag.exhausted && old.seq === flag.seq) return flags;
  const next = new Map(flags);
  next.set(period, flag);
  return next;
}

/**
 * Applies a signal. `today` is the period of this kind that contains "now" in the brand's zone
 * ("YYYY-MM-DD"). Returns the same object when nothing changes.
 *
 * A signal of a period before the current one is kept (it pauses nothing: only the current
 * period is judged) unless it is older than retainedFrom: should the brand's zone move west,
 * that period becomes current again with its state known.
 */
export function applyBudgetSignal(
  state: FlagState,
  signal: BudgetSignal,
  today: string,
  kind: PeriodKindName,
): FlagState {
  const p = signal.period;
  if (state.current !== null && p < retainedFrom(kind, state.current)) return state;
  let flags = state.flags;
  const old = flags.get(p);
  if (old === undefined || signal.seq > old.seq)
    flags = withFlag(flags, p, { exhausted: signal.exhausted, seq: signal.seq });
  let current = state.current;
  // The clock's opening makes its period current; an event only today's (a reset that is late
  // must not delay an exhaustion of today, but an event of an earlier day can only be late).
  const started = signal.kind === "open" || p === today;
  if (started && (current === null || p > current)) {
    current = p;
    flags = pruned(flags, kind, p);
  }
  if (current === state.current && flags === state.flags) return state;
  return { current, flags };
}

/**
 * The brand's zone moved (allowed until its first spend): its current period is the one that
 * contains now in the new zone, `today`, even if that is earlier than the current one (a zone
 * moved west). Flags known for it apply at once.
 */
export function rezoneFlags(state: FlagState, today: string, kind: PeriodKindName): FlagState {
  if (state.current === today) return state;
  return { current: today, flags: pruned(state.flags, kind, today) };
}

/** The budget service's state of a period, as reconciliation reads it. */
export interface PeriodTruth {
  period: string;
  exhausted: boolean;
  seq: bigint;
}

/**
 * How far ahead of this service's clock a period may have been opened legitimately: the clocks
 * worker and the budget service run on other machines' clocks, and the system already takes
 * spend dated up to five minutes ahead (the budget service's MAX_FUTURE_MS).
 */
export const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Reconciliation: the budget service's current state of a period, read now. It replaces the
 * flag this service holds for that period unless the flag carries a higher sequence (an event
 * committed after the read), so a flag that drifted (a lost or corrupted write) is repaired
 * whatever its sequence says. The period becomes current when it is later than the current one
 * and has started (`today`); a current period beyond `latest` (the period of now plus
 * CLOCK_SKEW_MS), which no clock can have opened, drifted and is set back to it. One within
 * `latest` stays: a reset whose clock runs a little ahead opened it, and a truth read just before
 * the midnight must not undo that.
 */
export function applyTruth(
  state: FlagState,
  truth: PeriodTruth,
  today: string,
  kind: PeriodKindName,
  latest: string,
): FlagState {
  const old = state.flags.get(truth.period);
  let flags =
    old === undefined || truth.seq >= old.seq
      ? withFlag(state.flags, truth.period, { exhausted: truth.exhausted, seq: truth.seq })
      : state.flags;
  let current = state.current;
  if (current !== null && current > latest && truth.period <= latest) current = truth.period;
  else if (truth.period <= today && (current === null || truth.period > current)) current = truth.period;
  if (current !== state.current && current !== null) flags = pruned(flags, kind, current);
  if (current === state.current && flags === state.flags) return state;
  return { current, flags };
}
/** Whether the current period is exhausted: what the serving rule reads. */
export function exhaustedNow(state: FlagState): boolean {
  return state.current !== null && (state.flags.get(state.current)?.exhausted ?? false);
}
