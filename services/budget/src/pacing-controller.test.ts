import { describe, expect, it } from "vitest";
import { pacingStep, quantize, worthPublishing, type PacingMemory } from "./pacing-controller.js";

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const LIMIT = 1_000_000_000n; // 1,000 units
/** The uniform target of a 24 h day starting at 0. */
const target = (t: number) => (LIMIT * BigInt(Math.round((Math.min(Math.max(t, 0), DAY) / DAY) * 1e6))) / 1_000_000n;
/** Target rate, micros per ms. */
const TARGET_RATE = Number(LIMIT) / DAY;

/**
 * A plant: traffic whose demand (micros per ms at throttle 1) is `demand(t)`, served at the
 * throttle the controller asked for one tick before (ad servers hear of it late), ticking each
 * minute. Returns every tick's spend, target and throttle.
 */
function run(demand: (t: number) => number, ticks = 24 * 60) {
  let spent = 0n;
  let memory: PacingMemory | undefined;
  let applied = 1;
  const rows: { t: number; spent: bigint; target: bigint; throttle: number }[] = [];
  for (let i = 0; i <= ticks; i++) {
    const t = i * MIN;
    memory = pacingStep(memory, {
      nowMs: t,
      day: "2027-06-01",
      spent,
      limit: LIMIT,
      targetAt: target,
      dayEndMs: DAY,
      horizonMs: 30 * MIN,
    });
    rows.push({ t, spent, target: target(t), throttle: memory.throttle });
    const add = BigInt(Math.floor(demand(t) * applied * MIN));
    spent = spent + add > LIMIT ? LIMIT : spent + add; // the exhaustion stop
    applied = memory.throttle;
  }
  return rows;
}

const gap = (r: { spent: bigint; target: bigint }) => Math.abs(Number(r.spent - r.target)) / Number(LIMIT);

describe("pacingStep", () => {
  it("step response: demand jumps from 2x to 6x the target rate at noon; spend stays on the curve, the throttle settles without oscillating", () => {
    const rows = run((t) => (t < DAY / 2 ? 2 : 6) * TARGET_RATE);
    // Before the step: the throttle settles near 1/2; after it near 1/6.
    const atNoon = rows[12 * 60 - 1];
    const late = rows[18 * 60];
    expect(atNoon?.throttle).toBeCloseTo(0.5, 1);
    expect(late?.throttle).toBeCloseTo(1 / 6, 1);
    // Spend never strays more than 1% of the limit from the target after the first hour.
    const worst = Math.max(...rows.slice(60).map(gap));
    expect(worst).toBeLessThan(0.01);
    // No oscillation: after the step the throttle moves one way, then stays within 0.02.
    const after = rows.slice(12 * 60, 14 * 60).map((r) => r.throttle);
    const settled = after.slice(30);
    expect(Math.max(...settled) - Math.min(...settled)).toBeLessThanOrEqual(0.02);
    // The budget runs out in the day's last hour, not before.
    const out = rows.find((r) => r.spent >= LIMIT);
    expect(out === undefined || out.t >= DAY - 60 * MIN).toBe(true);
  });

  it("does not starve: after a night with no traffic the throttle is 1, and spend catches up", () => {
    const rows = run((t) => (t < 6 * 60 * MIN ? 0 : 4 * TARGET_RATE));
    expect(rows[6 * 60 - 1]?.throttle).toBe(1);
    // Behind by 25% at 06:00, it is back within 1% of the curve by 09:00 (the catch-up's lag).
    expect(gap(rows[6 * 60] ?? { spent: 0n, target: 0n })).toBeGreaterThan(0.2);
    expect(gap(rows[9 * 60] ?? { spent: 0n, target: 0n })).toBeLessThan(0.01);
  });

  it("stops at 0 when ahead of the target and when the limit is reached", () => {
    const base = { nowMs: 6 * 60 * MIN, day: "d", limit: LIMIT, targetAt: target, dayEndMs: DAY, horizonMs: 30 * MIN };
    expect(pacingStep(undefined, { ...base, spent: LIMIT / 2n }).throttle).toBe(0);
    expect(pacingStep(undefined, { ...base, spent: LIMIT }).throttle).toBe(0);
    expect(pacingStep(undefined, { ...base, spent: 0n }).throttle).toBe(1);
  });

  it("keeps its demand estimate across a new day but not its spend baseline", () => {
    const base = { limit: LIMIT, targetAt: target, dayEndMs: DAY, horizonMs: 30 * MIN };
    const prev: PacingMemory = { atMs: 0, day: "a", spent: 900_000_000n, throttle: 0.5, demand: 42 };
    const next = pacingStep(prev, { ...base, nowMs: MIN, day: "b", spent: 0n });
    expect(next.demand).toBe(42);
  });
});

describe("publishing", () => {
  it.each([
    [undefined, 0.5, true],
    [0.5, 0.5, false],
    [0.5, 0.51, false],
    [0.5, 0.52, true],
    [0.5, 0.48, true],
    [0.01, 0, true],
    [0.99, 1, true],
  ])("from %s to %s: %s", (from, to, publish) => {
    expect(worthPublishing(from, to)).toBe(publish);
  });

  it("quantizes to 0.001 within [0, 1]", () => {
    expect(quantize(1.7)).toBe(1);
    expect(quantize(-3)).toBe(0);
    expect(quantize(0.12345)).toBe(0.123);
  });
});
