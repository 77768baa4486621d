import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyBudgetSignal,
  applyTruth,
  EMPTY_FLAGS,
  exhaustedNow,
  retainedFrom,
  rezoneFlags,
  type BudgetSignal,
  type FlagState,
} from "./budget-flags.js";

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
    [
      "a late event of yesterday is kept, and judges nothing",
      state(TODAY, []),
      ev("2026-11-27", 9n),
      state(TODAY, [["2026-11-27", true, 9n]]),
      false,
    ],
    [
      "a late event of yesterday before any period is current does not become current",
      EMPTY_FLAGS,
      ev("2026-11-27", 9n),
      state(null, [["2026-11-27", true, 9n]]),
      false,
    ],
    [
      "an event older than the retained days is ignored",
      state(TODAY, []),
      ev("2026-11-25", 9n),
      state(TODAY, []),
      false,
    ],
    [
      "an event of a started newer period makes it current (a late reset)",
      state("2026-11-27", [["2026-11-27", true, 3n]]),
      ev(TODAY, 4n, false),
      state(TODAY, [
        ["2026-11-27", true, 3n],
        [TODAY, false, 4n],
      ]),
      false,
    ],
    [
      "replay of the same event changes nothing",
      state(TODAY, [[TODAY, true, 5n]]),
      ev(TODAY, 5n),
      state(TODAY, [[TODAY, true, 5n]]),
      true,
    ],
    [
      "an older sequence of the period is ignored",
      state(TODAY, [[TODAY, false, 7n]]),
      ev(TODAY, 5n),
      state(TODAY, [[TODAY, false, 7n]]),
      false,
    ],
    [
      "opening a new period clears the old one's exhaustion",
      state("2026-11-27", [["2026-11-27", true, 3n]]),
      open(TODAY),
      state(TODAY, [
        ["2026-11-27", true, 3n],
        [TODAY, false, 0n],
      ]),
      false,
    ],
    [
      "opening a period drops flags older than the retained days",
      state("2026-11-26", [["2026-11-25", true, 3n]]),
      open(TODAY),
      state(TODAY, [[TODAY, false, 0n]]),
      false,
    ],
    [
      "opening the current period again keeps its flag",
      state(TODAY, [[TODAY, true, 3n]]),
      open(TODAY),
      state(TODAY, [[TODAY, true, 3n]]),
      true,
    ],
    [
      "opening an older period keeps its state and judges nothing",
      state(TODAY, [[TODAY, true, 3n]]),
      open("2026-11-27"),
      state(TODAY, [
        [TODAY, true, 3n],
        ["2026-11-27", false, 0n],
      ]),
      true,
    ],
    [
      "a period that opens exhausted (limit 0) pauses from its first instant",
      state("2026-11-27", []),
      open(TODAY, true, 8n),
      state(TODAY, [[TODAY, true, 8n]]),
      true,
    ],
    [
      "an exhaustion of tomorrow (spend dated ahead) pauses nothing today",
      state(TODAY, [[TODAY, false, 2n]]),
      ev("2026-11-29", 9n),
      state(TODAY, [
        [TODAY, false, 2n],
        ["2026-11-29", true, 9n],
      ]),
      false,
    ],
    [
      "tomorrow's early exhaustion applies when tomorrow opens",
      state(TODAY, [["2026-11-29", true, 9n]]),
      open("2026-11-29"),
      state("2026-11-29", [["2026-11-29", true, 9n]]),
      true,
    ],
    [
      "an opening state older than an event applied changes nothing",
      state(TODAY, [[TODAY, false, 9n]]),
      open(TODAY, true, 8n),
      state(TODAY, [[TODAY, false, 9n]]),
      false,
    ],
  ])("%s", (_name, before, signal, want, exhausted) => {
    const after = applyBudgetSignal(before, signal, TODAY, "day");
    expect(after).toEqual(want);
    expect(exhaustedNow(after)).toBe(exhausted);
  });

  it("returns the same object when nothing changes", () => {
    const s = state(TODAY, [[TODAY, true, 5n]]);
    expect(applyBudgetSignal(s, ev(TODAY, 5n), TODAY, "day")).toBe(s);
    expect(applyBudgetSignal(s, open(TODAY), TODAY, "day")).toBe(s);
  });

  it("any order of the same signals ends in the same state, and applying them again changes nothing", () => {
    const day = fc.integer({ min: 25, max: 30 }).map((d) => `2026-11-${d}`);
    // In production a sequence names one state of one period (an outbox id), and an opening
    // carries the state of the period's last event: generate signals consistent with that.
    const history = fc.array(fc.tuple(day, fc.boolean(), fc.boolean()), { maxLength: 10 }).map((raw) =>
      raw.map(([period, exhausted, isOpen], i): BudgetSignal => ({
        kind: isOpen ? "open" : "event",
        period,
        exhausted,
        seq: BigInt(i + 1),
      })),
    );
    fc.assert(
      fc.property(history, fc.array(fc.nat()), (signals, keys) => {
        const shuffled = signals
          .map((s, i) => ({ s, k: keys[i] ?? i }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.s);
        const a = signals.reduce((st, sig) => applyBudgetSignal(st, sig, TODAY, "day"), EMPTY_FLAGS);
        const b = shuffled.reduce((st, sig) => applyBudgetSignal(st, sig, TODAY, "day"), EMPTY_FLAGS);
        expect(b).toEqual(a);
        expect(signals.reduce((st, sig) => applyBudgetSignal(st, sig, TODAY, "day"), a)).toEqual(a);
        // Nothing dated after today is current unless it was opened.
        if (a.current !== null && a.current > TODAY)
          expect(signals.some((s) => s.kind === "open" && s.period === a.current)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe("retainedFrom", () => {
  it.each([
    ["day", "2026-03-01", "2026-02-27"],
    ["day", "2028-03-01", "2028-02-28"],
    ["month", "2026-01-01", "2025-12-01"],
    ["month", "2026-07-01", "2026-06-01"],
  ] as const)("%s %s keeps from %s", (kind, current, want) => {
    expect(retainedFrom(kind, current)).toBe(want);
  });
});

describe("rezoneFlags (the zone moved, before the first spend)", () => {
  it("moves the current period back to the new zone's today, where a flag known for it applies at once", () => {
    // Tokyo had opened 06-11; New York is still on 06-10, whose opening (limit 0) arrived first.
    const before = state("2026-06-11", [
      ["2026-06-10", true, 4n],
      ["2026-06-11", false, 0n],
    ]);
    const after = rezoneFlags(before, "2026-06-10", "day");
    expect(after).toEqual(
      state("2026-06-10", [
        ["2026-06-10", true, 4n],
        ["2026-06-11", false, 0n],
      ]),
    );
    expect(exhaustedNow(after)).toBe(true);
    expect(rezoneFlags(after, "2026-06-10", "day")).toBe(after);
  });

  it("after it, the new today's signals apply where before they were before the current period", () => {
    const moved = rezoneFlags(state("2026-06-11", []), "2026-06-10", "day");
    expect(exhaustedNow(applyBudgetSignal(moved, open("2026-06-10", true, 7n), "2026-06-10", "day"))).toBe(true);
  });
});

describe("applyTruth (reconciliation)", () => {
  const AHEAD = "2026-11-29"; // the period of now plus the clock skew, a second before midnight
  it.each<[string, FlagState, { period: string; exhausted: boolean; seq: bigint }, string, FlagState]>([
    [
      "repairs a flag that drifted, at the same sequence",
      state(TODAY, [[TODAY, false, 5n]]),
      { period: TODAY, exhausted: true, seq: 5n },
      TODAY,
      state(TODAY, [[TODAY, true, 5n]]),
    ],
    [
      "takes a later state",
      state(TODAY, [[TODAY, false, 5n]]),
      { period: TODAY, exhausted: true, seq: 6n },
      TODAY,
      state(TODAY, [[TODAY, true, 6n]]),
    ],
    [
      "keeps a flag set by an event after the read",
      state(TODAY, [[TODAY, false, 9n]]),
      { period: TODAY, exhausted: true, seq: 6n },
      TODAY,
      state(TODAY, [[TODAY, false, 9n]]),
    ],
    [
      "makes today current when the reset never came",
      state("2026-11-27", [["2026-11-27", true, 3n]]),
      { period: TODAY, exhausted: false, seq: 0n },
      TODAY,
      state(TODAY, [
        ["2026-11-27", true, 3n],
        [TODAY, false, 0n],
      ]),
    ],
    [
      "sets back a current period that drifted ahead of any clock",
      state("2026-11-30", []),
      { period: TODAY, exhausted: true, seq: 2n },
      TODAY,
      state(TODAY, [[TODAY, true, 2n]]),
    ],
    [
      "a truth of yesterday (a read just before midnight) does not move today back",
      state(TODAY, [[TODAY, false, 0n]]),
      { period: "2026-11-27", exhausted: true, seq: 2n },
      TODAY,
      state(TODAY, [
        ["2026-11-27", true, 2n],
        [TODAY, false, 0n],
      ]),
    ],
    [
      "an early opening (the reset's clock a little ahead) stays when a truth read before midnight comes",
      state(AHEAD, [[AHEAD, false, 0n]]),
      { period: TODAY, exhausted: true, seq: 2n },
      AHEAD,
      state(AHEAD, [
        [AHEAD, false, 0n],
        [TODAY, true, 2n],
      ]),
    ],
  ])("%s", (_name, before, truth, latest, want) => {
    expect(applyTruth(before, truth, TODAY, "day", latest)).toEqual(want);
  });
});
