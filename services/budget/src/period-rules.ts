/**
 * The budget rules as pure functions of bigint micros. A period is exhausted when a limit
 * exists and spent >= limit (so a limit of 0 is exhausted before any spend); remaining never
 * goes below 0 and overspend reports how far past the limit spend went.
 */

export interface PeriodFigures {
  spent: bigint;
  /** null = unlimited. */
  limit: bigint | null;
}

export interface PeriodVerdict {
  exhausted: boolean;
  /** null when unlimited. */
  remaining: bigint | null;
  overspend: bigint;
}

export function judge({ spent, limit }: PeriodFigures): PeriodVerdict {
  if (limit === null) return { exhausted: false, remaining: null, overspend: 0n };
  return {
    exhausted: spent >= limit,
    remaining: spent >= limit ? 0n : limit - spent,
    overspend: spent > limit ? spent - limit : 0n,
  };
}

/** What a change of figures means for consumers: an event to publish, or nothing. */
export type Transition = "exhausted" | "replenished" | undefined;

export function transition(wasExhausted: boolean, now: PeriodFigures): Transition {
  const isExhausted = judge(now).exhausted;
  if (isExhausted && !wasExhausted) return "exhausted";
  if (!isExhausted && wasExhausted) return "replenished";
  return undefined;
}

/** Parses a bigint column sent as text (we cast int8 to text: no float on a money path). */
export function micros(text: string | null): bigint | null {
  return text === null ? null : BigInt(text);
}
