import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { judge, transition } from "./period-rules.js";

describe("judge", () => {
  it.each([
    [0n, null, { exhausted: false, remaining: null, overspend: 0n }],
    [5n, null, { exhausted: false, remaining: null, overspend: 0n }],
    [0n, 0n, { exhausted: true, remaining: 0n, overspend: 0n }],
    [0n, 10n, { exhausted: false, remaining: 10n, overspend: 0n }],
    [9n, 10n, { exhausted: false, remaining: 1n, overspend: 0n }],
    [10n, 10n, { exhausted: true, remaining: 0n, overspend: 0n }],
    [15n, 10n, { exhausted: true, remaining: 0n, overspend: 5n }],
    [9_223_372_036_854_775_807n, 1n, { exhausted: true, remaining: 0n, overspend: 9_223_372_036_854_775_806n }],
  ])("spent %s, limit %s", (spent, limit, want) => {
    expect(judge({ spent, limit })).toEqual(want);
  });

  it("spent = limit - remaining + overspend, whenever limited", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 62n }), fc.bigInt({ min: 0n, max: 2n ** 62n }), (spent, limit) => {
        const v = judge({ spent, limit });
        expect(limit - v.remaining! + v.overspend).toBe(spent);
        expect(v.exhausted).toBe(v.remaining === 0n);
      }),
    );
  });
});

describe("transition", () => {
  it.each([
    [false, 10n, 5n, "exhausted"],
    [false, 10n, 10n, "exhausted"],
    [false, 10n, null, undefined],
    [false, 9n, 10n, undefined],
    [true, 9n, 10n, "replenished"],
    [true, 10n, 10n, undefined],
    [true, 10n, null, "replenished"],
    [false, 0n, 0n, "exhausted"],
  ] as const)("was exhausted %s, spent %s, limit %s -> %s", (was, spent, limit, want) => {
    expect(transition(was, { spent, limit })).toBe(want);
  });
});
