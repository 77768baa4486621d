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
 * period before the current one changes nothing.
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

/**
 * Applies a signal. `today` is the period of this kind that contains "now" in the brand's zone
 * ("YYYY-MM-DD"). Returns the same object when nothing changes.
 */
export function applyBudgetSignal(state: FlagState, signal: BudgetSignal, today: string): FlagState {
  const p = signal.period;
  if (state.current !== null && p < state.current) return state;
  let flags = state.flags;
  const old = flags.get(p);
  if (old === undefined || signal.seq > old.seq) {
    if (old === undefined || old.exhausted !== signal.exhausted || old.seq !== signal.seq) {
      const next = new Map(flags);
      next.set(p, { exhausted: signal.exhausted, seq: signal.seq });
      flags = next;
    }
  }
  let current = state.current;
  const started = signal.kind === "open" || p <= today;
  if (started && (current === null || p > current)) {
    current = p;
    // Flags of periods before the new current one can never apply again.
    const kept = new Map([...flags].filter(([period]) => period >= p));
    if (kept.size !== flags.size) flags = kept;
  }
  if (current === state.current && flags === state.flags) return state;
  return { current, flags };
}

/** Whether the current period is exhausted: what the serving rule reads. */
export function exhaustedNow(state: FlagState): boolean {
  return state.current !== null && (state.flags.get(state.current)?.exhausted ?? false);
}
