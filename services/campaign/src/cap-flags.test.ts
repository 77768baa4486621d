import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyCapSignal,
  applyCapTruth,
  applyLifetimeSignal,
  applyLifetimeTruth,
  NO_LIFETIME_FLAG,
  capExhaustedOn,
  capFlagsFromJson,
  capFlagsToJson,
  NO_CAP_FLAGS,
  type CapFlags,
  type CapSignal,
} from "./cap-flags.js";

const sig = (day: string, exhausted: boolean, seq: number): CapSignal => ({ day, exhausted, seq: BigInt(seq) });
const flags = (...entries: [string, boolean, number][]): CapFlags =>
  new Map(entries.map(([d, e, s]) => [d, { exhausted: e, seq: BigInt(s) }]));

describe("applyCapSignal", () => {
  it.each<[string, CapFlags, CapSignal, CapFlags | "same"]>([
    ["the first event", NO_CAP_FLAGS, sig("2026-12-01", true, 5), flags(["2026-12-01", true, 5])],
    [
      "a higher sequence of the day",
      flags(["2026-12-01", true, 5]),
      sig("2026-12-01", false, 9),
      flags(["2026-12-01", false, 9]),
    ],
    ["the same event again", flags(["2026-12-01", true, 5]), sig("2026-12-01", true, 5), "same"],
    ["a lower sequence of the day", flags(["2026-12-01", false, 9]), sig("2026-12-01", true, 5), "same"],
    [
      "an event of another day keeps its own flag",
      flags(["2026-12-02", false, 1]),
      sig("2026-12-01", true, 99),
      flags(["2026-12-02", false, 1], ["2026-12-01", true, 99]),
    ],
    // Spend dated ahead crossed tomorrow's cap first; today's crossing, committed earlier, arrives after it.
    [
      "today's crossing arriving after tomorrow's is kept",
      flags(["2026-12-02", true, 50]),
      sig("2026-12-01", true, 40),
      flags(["2026-12-02", true, 50], ["2026-12-01", true, 40]),
    ],
    ["an event older than the floor is ignored", flags(["2026-12-02", false, 1]), sig("2026-11-28", true, 99), "same"],
  ])("%s", (_name, state, signal, want) => {
    const got = applyCapSignal(state, signal, "2026-11-29");
    if (want === "same") expect(got).toBe(state);
    else expect(got).toEqual(want);
  });

  it("drops days older than the floor when it changes a flag", () => {
    expect(applyCapSignal(flags(["2026-11-20", true, 1]), sig("2026-12-01", true, 2), "2026-11-29")).toEqual(
      flags(["2026-12-01", true, 2]),
    );
  });
});

describe("capExhaustedOn", () => {
  it("pauses only by the flag of the brand's current day", () => {
    const s = flags(["2026-12-01", true, 3], ["2026-12-02", false, 4]);
    expect(capExhaustedOn(s, "2026-12-01")).toBe(true);
    expect(capExhaustedOn(s, "2026-12-02")).toBe(false);
    expect(capExhaustedOn(s, "2026-12-03")).toBe(false);
    expect(capExhaustedOn(s, null)).toBe(false);
  });
});

describe("applyCapTruth (reconciliation)", () => {
  it.each<[string, CapFlags, CapSignal, CapFlags]>([
    [
      "repairs a flag that drifted, at the same sequence",
      flags(["2026-12-01", true, 5]),
      sig("2026-12-01", false, 5),
      flags(["2026-12-01", false, 5]),
    ],
    [
      "keeps a flag set by an event after the read",
      flags(["2026-12-01", true, 9]),
      sig("2026-12-01", false, 5),
      flags(["2026-12-01", true, 9]),
    ],
    ["adds the day it did not know", NO_CAP_FLAGS, sig("2026-12-01", true, 5), flags(["2026-12-01", true, 5])],
  ])("%s", (_name, state, truth, want) => {
    expect(applyCapTruth(state, truth, "2026-11-29")).toEqual(want);
  });
});

describe("stored form", () => {
  it("round-trips, and reads anything malformed as no flag", () => {
    const s = flags(["2026-12-01", true, 42], ["2026-12-02", false, 7]);
    expect(capFlagsFromJson(JSON.parse(JSON.stringify(capFlagsToJson(s))))).toEqual(s);
    expect(
      capFlagsFromJson({
        "2026-12-01": { exhausted: "yes", seq: "1" },
        nope: { exhausted: true, seq: "1" },
        "2026-12-02": { exhausted: true, seq: 1 },
      }),
    ).toEqual(NO_CAP_FLAGS);
    expect(capFlagsFromJson(null)).toEqual(NO_CAP_FLAGS);
  });
});

describe("cap events in any order", () => {
  // Events as the budget service publishes them: sequences increase with commit order.
  const events = fc
    .array(fc.record({ day: fc.constantFrom("2026-11-30", "2026-12-01", "2026-12-02"), exhausted: fc.boolean() }), {
      minLength: 1,
      maxLength: 12,
    })
    .map((es) => es.map((e, i) => sig(e.day, e.exhausted, i + 1)));

  it("end with each day's highest sequence, whatever the delivery order and repeats", () => {
    fc.assert(
      fc.property(events, fc.func(fc.integer()), fc.nat(), (published, order, repeats) => {
        const delivered = [...published, ...published.slice(0, repeats % (published.length + 1))]
          .map((e, i) => ({ e, k: order(i) }))
          .sort((a, b) => a.k - b.k)
          .map((x) => x.e);
        const final = delivered.reduce((f, s) => applyCapSignal(f, s, "2026-11-29"), NO_CAP_FLAGS);
        for (const day of new Set(published.map((e) => e.day))) {
          const latest = published
            .filter((e) => e.day === day)
            .sort((a, b) => Number(a.seq - b.seq))
            .at(-1)!;
          expect(final.get(day)).toEqual({ exhausted: latest.exhausted, seq: latest.seq });
        }
        expect(final.size).toBe(new Set(published.map((e) => e.day)).size);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("the lifetime flag", () => {
  const f = (exhausted: boolean, seq: number) => ({ exhausted, seq: BigInt(seq) });

  it("ends with the published event of the highest sequence, whatever the delivery order and repeats", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 12 }),
        fc.func(fc.integer()),
        fc.nat(),
        (published, order, repeats) => {
          const events = published.map((exhausted, i) => f(exhausted, i + 1));
          const delivered = [...events, ...events.slice(0, repeats % (events.length + 1))]
            .map((e, i) => ({ e, k: order(i) }))
            .sort((a, b) => a.k - b.k)
            .map((x) => x.e);
          const final = delivered.reduce(applyLifetimeSignal, NO_LIFETIME_FLAG);
          expect(final).toEqual(events.at(-1));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it("keeps the same object when an event changes nothing (nothing is written)", () => {
    const flag = f(true, 7);
    expect(applyLifetimeSignal(flag, f(false, 7))).toBe(flag);
    expect(applyLifetimeSignal(flag, f(false, 3))).toBe(flag);
  });

  it.each<[string, [boolean, number], [boolean, number], [boolean, number]]>([
    ["reconciliation repairs a flag that drifted, at the same sequence", [true, 5], [false, 5], [false, 5]],
    ["and keeps one set by an event after the read", [true, 9], [false, 5], [true, 9]],
    ["and takes a newer truth", [false, 0], [true, 4], [true, 4]],
  ])("%s", (_name, state, truth, want) => {
    expect(applyLifetimeTruth(f(...state), f(...truth))).toEqual(f(...want));
  });
});
