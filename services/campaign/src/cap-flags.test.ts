import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { applyCapSignal, capExhaustedOn, type CapFlag, type CapSignal } from "./cap-flags.js";

const NONE: CapFlag = { day: null, exhausted: false, seq: 0n };
const sig = (day: string, exhausted: boolean, seq: number): CapSignal => ({ day, exhausted, seq: BigInt(seq) });

describe("applyCapSignal", () => {
  it.each<[string, CapFlag, CapSignal, CapFlag | "same"]>([
    ["the first event", NONE, sig("2026-12-01", true, 5), { day: "2026-12-01", exhausted: true, seq: 5n }],
    ["a higher sequence of the day", { day: "2026-12-01", exhausted: true, seq: 5n }, sig("2026-12-01", false, 9), { day: "2026-12-01", exhausted: false, seq: 9n }],
    ["the same event again", { day: "2026-12-01", exhausted: true, seq: 5n }, sig("2026-12-01", true, 5), "same"],
    ["a lower sequence of the day", { day: "2026-12-01", exhausted: false, seq: 9n }, sig("2026-12-01", true, 5), "same"],
    ["an event of an older day", { day: "2026-12-02", exhausted: false, seq: 1n }, sig("2026-12-01", true, 99), "same"],
    ["an event of a later day, whatever its sequence", { day: "2026-12-01", exhausted: false, seq: 99n }, sig("2026-12-02", true, 1), { day: "2026-12-02", exhausted: true, seq: 1n }],
  ])("%s", (_name, state, signal, want) => {
    const got = applyCapSignal(state, signal);
    if (want === "same") expect(got).toBe(state);
    else expect(got).toEqual(want);
  });
});

describe("capExhaustedOn", () => {
  it("pauses only on the day of the event", () => {
    const s = { day: "2026-12-01", exhausted: true };
    expect(capExhaustedOn(s, "2026-12-01")).toBe(true);
    expect(capExhaustedOn(s, "2026-12-02")).toBe(false);
    expect(capExhaustedOn(s, null)).toBe(false);
    expect(capExhaustedOn({ day: "2026-12-01", exhausted: false }, "2026-12-01")).toBe(false);
  });
});

describe("cap events in any order", () => {
  // Events as the budget service publishes them: per day, sequences increase with commit order.
  const events = fc.array(fc.record({ day: fc.constantFrom("2026-11-30", "2026-12-01", "2026-12-02"), exhausted: fc.boolean() }), { minLength: 1, maxLength: 12 })
    .map((es) => es.map((e, i) => sig(e.day, e.exhausted, i + 1)));

  it("end in the state of the latest day's highest sequence, whatever the delivery order and repeats", () => {
    fc.assert(
      fc.property(events, fc.func(fc.integer()), fc.nat(), (published, order, repeats) => {
        const delivered = [...published, ...published.slice(0, repeats % (published.length + 1))]
          .map((e, i) => ({ e, k: order(i) })).sort((a, b) => a.k - b.k).map((x) => x.e);
        const final = delivered.reduce(applyCapSignal, NONE);
        const lastDay = published.map((e) => e.day).sort().at(-1)!;
        const latest = published.filter((e) => e.day === lastDay).sort((a, b) => Number(a.seq - b.seq)).at(-1)!;
        expect(final).toEqual({ day: latest.day, exhausted: latest.exhausted, seq: latest.seq });
      }),
      { numRuns: 1000 },
    );
  });
});
