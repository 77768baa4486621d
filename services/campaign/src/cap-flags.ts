/**
 * What the campaign service knows of a campaign's cap (Campaign.daily_limit_micros), as a pure
 * state machine over the budget service's cap events: per brand day, whether the campaign's
 * spend that day is at its cap, and the sequence of the event that said so.
 *
 * Each day keeps its own flag, so an event of tomorrow (spend dated a few minutes ahead, which
 * reached tomorrow's cap) neither pauses the campaign today nor hides today's own crossing when
 * that arrives after it. Within a day the higher sequence wins (the budget service's outbox id,
 * which increases in commit order); anything older changes nothing. So replays, redeliveries and
 * reordering end in the same flags. Only the flag of the brand's current day is judged
 * (capExhaustedOn), so the next day's reset frees the campaign with nothing to clear.
 */
export interface CapFlag {
  exhausted: boolean;
  seq: bigint;
}

/** Flags by brand day ("YYYY-MM-DD"). */
export type CapFlags = ReadonlyMap<string, CapFlag>;

export const NO_CAP_FLAGS: CapFlags = new Map();

export interface CapSignal {
  day: string;
  exhausted: boolean;
  seq: bigint;
}

/**
 * Applies a cap event; returns the same object when it changes nothing. `floor` is the oldest
 * day worth keeping (budget-flags retainedFrom of the brand's current day; null before any):
 * older days are dropped, and an event of one is ignored.
 */
export function applyCapSignal(flags: CapFlags, signal: CapSignal, floor: string | null): CapFlags {
  if (floor !== null && signal.day < floor) return flags;
  const old = flags.get(signal.day);
  if (old !== undefined && signal.seq <= old.seq) return flags;
  return withDay(flags, signal, floor);
}

/**
 * Reconciliation: the budget service's state of the campaign's day, read now. It replaces the
 * flag of that day unless the flag carries a higher sequence (an event committed after the
 * read), so a flag that drifted is repaired whatever its sequence says.
 */
export function applyCapTruth(flags: CapFlags, truth: CapSignal, floor: string | null): CapFlags {
  if (floor !== null && truth.day < floor) return flags;
  const old = flags.get(truth.day);
  if (old !== undefined && (truth.seq < old.seq || (old.exhausted === truth.exhausted && old.seq === truth.seq)))
    return flags;
  return withDay(flags, truth, floor);
}

function withDay(flags: CapFlags, s: CapSignal, floor: string | null): CapFlags {
  const next = new Map([...flags].filter(([day]) => floor === null || day >= floor));
  next.set(s.day, { exhausted: s.exhausted, seq: s.seq });
  return next;
}

/** Whether the cap pauses the campaign on the brand's current day: only that day's flag counts. */
export function capExhaustedOn(flags: CapFlags, brandDay: string | null): boolean {
  return brandDay !== null && (flags.get(brandDay)?.exhausted ?? false);
}

/** The flags as stored (jsonb: `{"2026-12-01": {"exhausted": true, "seq": "42"}}`). */
export function capFlagsToJson(flags: CapFlags): Record<string, { exhausted: boolean; seq: string }> {
  return Object.fromEntries([...flags].map(([day, f]) => [day, { exhausted: f.exhausted, seq: f.seq.toString() }]));
}

/** The flags from their stored form; anything malformed reads as no flag for that day. */
export function capFlagsFromJson(json: unknown): CapFlags {
  const out = new Map<string, CapFlag>();
  if (json === null || typeof json !== "object") return out;
  for (const [day, v] of Object.entries(json)) {
    if (!/^\d{4}-\d{2}-\d{2}$/.test(day) || v === null || typeof v !== "object") continue;
    const exhausted: unknown = Reflect.get(v, "exhausted");
    const seq: unknown = Reflect.get(v, "seq");
    if (typeof exhausted !== "boolean" || typeof seq !== "string" || !/^\d+$/.test(seq)) continue;
    out.set(day, { exhausted, seq: BigInt(seq) });
  }
  return out;
}

/**
 * What the campaign service knows of a campaign's lifetime budget (Campaign.lifetime_limit_micros):
 * whether the budget service's last lifetime event said it was reached, and that event's sequence.
 * One flag for the campaign's life: no day resets it, only a replenished event (a higher or
 * removed limit) clears it.
 */
export const NO_LIFETIME_FLAG: CapFlag = { exhausted: false, seq: 0n };

/** Applies a lifetime event: the higher sequence wins; returns the same object when it changes nothing. */
export function applyLifetimeSignal(flag: CapFlag, signal: CapFlag): CapFlag {
  return signal.seq > flag.seq ? { exhausted: signal.exhausted, seq: signal.seq } : flag;
}

/**
 * Reconciliation: the budget service's lifetime state, read now. It replaces the flag unless the
 * flag carries a higher sequence (an event committed after the read).
 */
export function applyLifetimeTruth(flag: CapFlag, truth: CapFlag): CapFlag {
  if (truth.seq < flag.seq || (truth.exhausted === flag.exhausted && truth.seq === flag.seq)) return flag;
  return { exhausted: truth.exhausted, seq: truth.seq };
}
