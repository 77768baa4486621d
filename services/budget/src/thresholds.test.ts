import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crossedThresholds, parsePercents, reachedThresholds, thresholdOf } from "./thresholds.js";

describe("thresholds", () => {
  it.each<[string, bigint, bigint, bigint | null, number[], number[]]>([
    ["50% of $10 crossed by $4 -> $6", 4_000_000n, 6_000_000n, 10_000_000n, [50, 80, 100], [50]],
    ["landing exactly on 80%", 5_000_000n, 8_000_000n, 10_000_000n, [50, 80, 100], [80]],
    ["starting exactly on 50%: not again", 5_000_000n, 7_000_000n, 10_000_000n, [50, 80, 100], []],
    ["one spend past several", 0n, 12_000_000n, 10_000_000n, [50, 80, 100], [50, 80, 100]],
    ["unlimited", 0n, 12_000_000n, null, [50], []],
    ["a limit of 0 (exhaustion says it)", 0n, 1n, 0n, [50, 100], []],
    ["rounded up: 1% of 150 micros is 2", 1n, 2n, 150n, [1], [1]],
  ])("%s", (_name, before, after, limit, percents, expected) => {
    expect(crossedThresholds(before, after, limit, percents)).toEqual(expected);
  });

  it("a threshold is crossed by exactly one of any split of the spend", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 1n, max: 10n ** 12n }),
        fc.array(fc.bigInt({ min: 1n, max: 10n ** 11n }), { minLength: 1, maxLength: 20 }),
        fc.uniqueArray(fc.integer({ min: 1, max: 100 }), { maxLength: 10 }),
        (limit, amounts, percents) => {
          let spent = 0n;
          const seen: number[] = [];
          for (const a of amounts) {
            seen.push(...crossedThresholds(spent, spent + a, limit, percents));
            spent += a;
          }
          // Every threshold reached at the end was crossed once, and none other.
          expect([...seen].sort((x, y) => x - y)).toEqual(
            reachedThresholds(spent, limit, percents).sort((x, y) => x - y),
          );
        },
      ),
    );
  });

  it("computes the threshold exactly and reads PostgreSQL arrays", () => {
    expect(thresholdOf(10_000_000n, 80)).toBe(8_000_000n);
    expect(thresholdOf(3n, 50)).toBe(2n);
    expect(thresholdOf(9_223_372_036_854_775_807n, 100)).toBe(9_223_372_036_854_775_807n);
    expect(parsePercents("{50,80,100}")).toEqual([50, 80, 100]);
    expect(parsePercents("{}")).toEqual([]);
    expect(parsePercents(null)).toEqual([]);
  });
});
