import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { applySignal, servingState, type FlagSignal, type PeriodFlag } from "./serving-state.js";

describe("servingState over every combination", () => {
  const combos = Array.from({ length: 32 }, (_, n) => ({
    enabled: (n & 1) === 0,
    inDaypart: (n & 2) === 0,
    dayExhausted: (n & 4) !== 0,
    monthExhausted: (n & 8) !== 0,
    brandArchived: (n & 16) !== 0,
  }));
  it.each(combos)("%j", (inputs) => {
    const want: PauseReason[] = [];
    if (!inputs.enabled) want.push(PauseReason.PAUSED_BY_USER);
    if (!inputs.inDaypart) want.push(PauseReason.OUTSIDE_DAYPART);
    if (inputs.dayExhausted) want.push(PauseReason.DAILY_BUDGET_EXHAUSTED);
    if (inputs.monthExhausted) want.push(PauseReason.MONTHLY_BUDGET_EXHAUSTED);
    if (inputs.brandArchived) want.push(PauseReason.BRAND_ARCHIVED);
    expect(servingState(inputs)).toEqual({ serving: want.length === 0, reasons: want });
  });
});

describe("applySignal", () => {
  const empty: PeriodFlag = { period: null, exhausted: false, seq: 0n };
  const ex = (period: string, seq: bigint, exhausted = true): FlagSignal => ({ kind: "event", period, exhausted, seq });
  it.each<[string, PeriodFlag, FlagSignal, PeriodFlag]>([
    ["first event", empty, ex("2026-11-28", 5n), { period: "2026-11-28", exhausted: true, seq: 5n }],
    ["late event of an older period is ignored", { period: "2026-11-28", exhausted: false, seq: 0n }, ex("2026-11-27", 9n), { period: "2026-11-28", exhausted: false, seq: 0n }],
    ["newer period replaces", { period: "2026-11-27", exhausted: true, seq: 3n }, ex("2026-11-28", 1n, false), { period: "2026-11-28", exhausted: false, seq: 1n }],
    ["replay of the same event is ignored", { period: "2026-11-28", exhausted: true, seq: 5n }, ex("2026-11-28", 5n), { period: "2026-11-28", exhausted: true, seq: 5n }],
    ["older sequence of the same period is ignored", { period: "2026-11-28", exhausted: false, seq: 7n }, ex("2026-11-28", 5n), { period: "2026-11-28", exhausted: false, seq: 7n }],
    ["reset clears an older period", { period: "2026-11-27", exhausted: true, seq: 3n }, { kind: "open", period: "2026-11-28" }, { period: "2026-11-28", exhausted: false, seq: 0n }],
    ["reset does not clear the same period", { period: "2026-11-28", exhausted: true, seq: 3n }, { kind: "open", period: "2026-11-28" }, { period: "2026-11-28", exhausted: true, seq: 3n }],
    ["reset of an older period changes nothing", { period: "2026-11-28", exhausted: true, seq: 3n }, { kind: "open", period: "2026-11-27" }, { period: "2026-11-28", exhausted: true, seq: 3n }],
  ])("%s", (_name, flag, signal, want) => {
    expect(applySignal(flag, signal)).toEqual(want);
  });

  it("any order of the same signals gives the same flag, and applying twice changes nothing", () => {
    const day = fc.integer({ min: 1, max: 5 }).map((d) => `2026-11-0${d}`);
    const signal: fc.Arbitrary<FlagSignal> = fc.oneof(
      fc.record({ kind: fc.constant("event" as const), period: day, exhausted: fc.boolean(), seq: fc.bigInt({ min: 1n, max: 50n }) }),
      fc.record({ kind: fc.constant("open" as const), period: day }),
    );
    // Sequences are unique per event in production (the outbox id): make them so here.
    const unique = (ss: FlagSignal[]) => {
      const seen = new Set<bigint>();
      return ss.filter((s) => s.kind === "open" || (!seen.has(s.seq) && seen.add(s.seq)));
    };
    fc.assert(
      fc.property(fc.array(signal, { maxLength: 8 }).map(unique), fc.integer(), (signals, seed) => {
        const start: PeriodFlag = { period: null, exhausted: false, seq: 0n };
        // Opens and events commute only when events of a period carry increasing sequences after
        // the open; compare event-only histories for order independence.
        const events = signals.filter((s) => s.kind === "event");
        const shuffled = [...events].sort((a, b) => ((seed ^ Number(a.seq)) % 7) - ((seed ^ Number(b.seq)) % 7));
        const a = events.reduce(applySignal, start);
        const b = shuffled.reduce(applySignal, start);
        expect(b).toEqual(a);
        expect(events.reduce(applySignal, a)).toEqual(a);
      }),
    );
  });
});
