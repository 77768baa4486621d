import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyBudgetSignal, EMPTY_FLAGS, exhaustedNow, type BudgetSignal, type FlagState } from "./budget-flags.js";

const TODAY = "2026-11-28";
const ev = (period: string, seq: bigint, exhausted = true): BudgetSignal => ({ kind: "event", period, exhausted, seq });
const open = (period: string, exhausted = false, seq = 0n): BudgetSignal => ({ kind: "open", period, exhausted, seq });
const state = (current: string | null, flags: [string, boolean, bigint][]): FlagState => ({
  current,
  flags: new Map(flags.map(([p, exhausted, seq]) => [p, { exhausted, seq }])),
});

describe("applyBudgetSignal", () => {
  it.each<[string, FlagState, BudgetSignal, FlagState, boolean]>([
    ["first event of today", EMPTY_FLAGS, ev(TODAY, 5n), state(TODAY, [[TODAY, true, 5n]]), true],
    ["late event of an older period is ignored", state(TODAY, []), ev("2026-11-27", 9n), state(TODAY, []), false],
    ["an event of a started newer period makes it current (a late reset)", state("2026-11-27", [["2026-11-27", true, 3n]]), ev(TODAY, 4n, false), state(TODAY, [[TODAY, false, 4n]]), false],
    ["replay of the same event changes nothing", state(TODAY, [[TODAY, true, 5n]]), ev(TODAY, 5n), state(TODAY, [[TODAY, true, 5n]]), true],
    ["an older sequence of the period is ignored", state(TODAY, [[TODAY, false, 7n]]), ev(TODAY, 5n), state(TODAY, [[TODAY, false, 7n]]), false],
    ["opening a new period clears the old one's exhaustion", state("2026-11-27", [["2026-11-27", true, 3n]]), open(TODAY), state(TODAY, [[TODAY, false, 0n]]), false],
    ["opening the current period again keeps its flag", state(TODAY, [[TODAY, true, 3n]]), open(TODAY), state(TODAY, [[TODAY, true, 3n]]), true],
    ["opening an older period changes nothing", state(TODAY, [[TODAY, true, 3n]]), open("2026-11-27"), state(TODAY, [[TODAY, true, 3n]]), true],
    ["a period that opens exhausted (limit 0) pauses from its first instant", state("2026-11-27", []), open(TODAY, true, 8n), state(TODAY, [[TODAY, true, 8n]]), true],
    ["an exhaustion of tomorrow (spend dated ahead) pauses nothing today", state(TODAY, [[TODAY, false, 2n]]), ev("2026-11-29", 9n), state(TODAY, [[TODAY, false, 2n], ["2026-11-29", true, 9n]]), false],
    ["tomorrow's early exhaustion applies when tomorrow opens", state(TODAY, [["2026-11-29", true, 9n]]), open("2026-11-29"), state("2026-11-29", [["2026-11-29", true, 9n]]), true],
    ["an opening state older than an event applied changes nothing", state(TODAY, [[TODAY, false, 9n]]), open(TODAY, true, 8n), state(TODAY, [[TODAY, false, 9n]]), false],
  ])("%s", (_name, before, signal, want, exhausted) => {
    const after = applyBudgetSignal(before, signal, TODAY);
    expect(after).toEqual(want);
    expect(exhaustedNow(after)).toBe(exhausted);
  });

  it("returns the same object when nothing changes", () => {
    const s = state(TODAY, [[TODAY, true, 5n]]);
    expect(applyBudgetSignal(s, ev(TODAY, 5n), TODAY)).toBe(s);
    expect(applyBudgetSignal(s, open(TODAY), TODAY)).toBe(s);
  });

  it("any order of the same signals ends in the same state, and applying them again changes nothing", () => {
    const day = fc.integer({ min: 25, max: 30 }).map((d) => `2026-11-${d}`);
    // In production a sequence names one state of one period (an outbox id), and an opening
    // carries the state of the period's last event: generate signals consistent with that.
    const history = fc.array(fc.tuple(day, fc.boolean(), fc.boolean()), { maxLength: 10 }).map((raw) =>
      raw.map(([period, exhausted, isOpen], i): BudgetSignal => ({ kind: isOpen ? "open" : "event", period, exhausted, seq: BigInt(i + 1) })),
    );
    fc.assert(
      fc.property(history, fc.array(fc.nat()), (signals, keys) => {
        const shuffled = signals.map((s, i) => ({ s, k: keys[i] ?? i })).sort((a, b) => a.k - b.k).map((x) => x.s);
        const a = signals.reduce((st, sig) => applyBudgetSignal(st, sig, TODAY), EMPTY_FLAGS);
        const b = shuffled.reduce((st, sig) => applyBudgetSignal(st, sig, TODAY), EMPTY_FLAGS);
        expect(b).toEqual(a);
        expect(signals.reduce((st, sig) => applyBudgetSignal(st, sig, TODAY), a)).toEqual(a);
        // Nothing dated after today is current unless it was opened.
        if (a.current !== null && a.current > TODAY) expect(signals.some((s) => s.kind === "open" && s.period === a.current)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});
