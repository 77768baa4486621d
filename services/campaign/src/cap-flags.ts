/**
 * What the campaign service knows of a campaign's cap (Campaign.daily_limit_micros), as a pure
 * state machine over the budget service's cap events: the brand day of the last event applied,
 * its state and its sequence.
 *
 * A later day wins; within a day, the higher sequence (the budget service's outbox id, which
 * increases in commit order); anything older changes nothing. So replays, redeliveries and
 * reordering end in the same state, and an event of yesterday arriving after today's cannot
 * pause the campaign today.
 */
export interface CapFlag {
  /** The brand day ("YYYY-MM-DD") of the last cap event applied, or null before any. */
  day: string | null;
  exhausted: boolean;
  seq: bigint;
}

export interface CapSignal {
  day: string;
  exhausted: boolean;
  seq: bigint;
}

/** Applies a cap event; returns the same object when it changes nothing. */
export function applyCapSignal(state: CapFlag, signal: CapSignal): CapFlag {
  if (state.day !== null && (signal.day < state.day || (signal.day === state.day && signal.seq <= state.seq))) return state;
  return { day: signal.day, exhausted: signal.exhausted, seq: signal.seq };
}

/** Whether the cap pauses the campaign on the brand's current day: only that day's event counts. */
export function capExhaustedOn(state: Pick<CapFlag, "day" | "exhausted">, brandDay: string | null): boolean {
  return state.exhausted && state.day !== null && state.day === brandDay;
}
