import { describe, expect, it } from "vitest";
import {
  brandThrottle,
  observe,
  quantize,
  throttleFor,
  wantedRate,
  worthPublishing,
  type PacingMemory,
} from "./pacing-controller.js";

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const LIMIT = 1_000_000_000n; // 1,000 units
/** The uniform target of a 24 h day starting at 0. */
const target = (t: number) => (LIMIT * BigInt(Math.round((Math.min(Math.max(t, 0), DAY) / DAY) * 1e6))) / 1_000_000n;
/** Target rate, micros per ms. */
const TARGET_RATE = Number(LIMIT) / DAY;

const OPTS = { tauMs: 5 * MIN, maxGapMs: 30 * MIN };

/**
 * A plant: traffic whose demand (micros per ms at throttle 1) is `demand(t)`, served at the
 * throttle last published (ad servers hear of a tick's throttle for the next interval, and of
 * moves of a step only), ticking each minute. Returns every tick's spend, target and throttle.
 */
function run(demand: (t: number) => number, ticks = 24 * 60) {
  let spent = 0n;
  let memory: PacingMemory | undefined;
  let published: number | undefined;
  const rows: { t: number; spent: bigint; target: bigint; throttle: number }[] = [];
  for (let i = 0; i <= ticks; i++) {
    const t = i * MIN;
    memory = observe(memory, { tick: BigInt(i), nowMs: t, day: "2027-06-01", spent }, OPTS);
    const throttle = throttleFor(
      wantedRate({ nowMs: t, spent, limit: LIMIT, targetAt: target, dayEndMs: DAY, horizonMs: 30 * MIN }),
      memory.demand,
    );
    if (worthPublishing(published, throttle)) published = throttle;
    const applied = published ?? 1;
    memory = { ...memory, applied };
    rows.push({ t, spent, target: target(t), throttle: applied });
    const add = BigInt(Math.floor(demand(t) * applied * MIN));
    spent = spent + add > LIMIT ? LIMIT : spent + add; // the exhaustion stop
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
    const base = { nowMs: 6 * 60 * MIN, limit: LIMIT, targetAt: target, dayEndMs: DAY, horizonMs: 30 * MIN };
    expect(throttleFor(wantedRate({ ...base, spent: LIMIT / 2n }), 42)).toBe(0);
    expect(throttleFor(wantedRate({ ...base, spent: LIMIT }), 42)).toBe(0);
    expect(throttleFor(wantedRate({ ...base, spent: 0n }), null)).toBe(1);
    // The day's last instant: whatever is left may go.
    expect(wantedRate({ ...base, nowMs: DAY, spent: 0n })).toBe(Infinity);
  });
});

describe("observe (the demand estimate)", () => {
  const prev: PacingMemory = { tick: 7n, atMs: 0, day: "a", spent: 0n, applied: 0.5, demand: 10 };
  const at = (nowMs: number, spent: bigint, day = "a", tick = 8n) => ({ tick, nowMs, day, spent });
  it("keeps its estimate across a new day but not its spend baseline", () => {
    const next = observe({ ...prev, spent: 900n }, at(MIN, 0n, "b"), OPTS);
    expect(next).toMatchObject({ demand: 10, day: "b", spent: 0n, atMs: MIN, tick: 8n });
  });
  it("weighs an interval by its length: a replica ticking 1 ms after another barely moves it", () => {
    // 1 ms at a spend that, over a whole interval, would mean a demand of 2000.
    expect(observe(prev, at(1, 1000n), OPTS).demand).toBeCloseTo(10, 1);
    // Over tau, at throttle 0.5, 10 micros/ms spent is a demand of 20: the estimate moves 1 - 1/e of the way.
    const next = observe(prev, at(5 * MIN, BigInt(10 * 5 * MIN)), OPTS);
    expect(next.demand).toBeCloseTo(20 * (1 - Math.exp(-1)) + 10 * Math.exp(-1), 6);
  });
  it("observes only against the tick before: not across ticks it was not paced at, a long gap, or a throttle too low to tell", () => {
    expect(observe(prev, at(5 * MIN, 99_999n, "a", 9n), OPTS).demand).toBe(10);
    expect(observe(prev, at(31 * MIN, 1n), OPTS).demand).toBe(10);
    expect(observe({ ...prev, applied: 0.01 }, at(5 * MIN, 99_999n), OPTS).demand).toBe(10);
  });
  it("learns its first estimate over ticks shorter than tau/30 by keeping the baseline until then", () => {
    const first: PacingMemory = { ...prev, demand: null, applied: 1 };
    // Ticks each second (tau/30 is 10 s): the baseline stays at 0 until 10 s have passed.
    let m = observe(first, at(1000, 1000n), OPTS);
    expect(m).toMatchObject({ atMs: 0, spent: 0n, demand: null, tick: 8n });
    m = observe(m, at(10_000, 10_000n, "a", 9n), OPTS);
    expect(m).toMatchObject({ atMs: 10_000, spent: 10_000n, demand: 1 });
  });
  it("keeps the baseline whole when this replica's clock is behind the last one's", () => {
    expect(observe({ ...prev, atMs: 1000 }, at(900, 50n), OPTS)).toEqual({ ...prev, atMs: 1000, tick: 8n });
  });
});

describe("brandThrottle", () => {
  // Two campaigns: demand 2 uncapped, demand 1 whose own cap holds it to 0.2. Spend at t is
  // 2t + min(t, 0.2), solved by hand.
  const campaigns = [
    { demand: 2, cap: 1 },
    { demand: 1, cap: 0.2 },
  ];
  it.each([
    [1.5, 0.65], // 2t + 0.2 = 1.5
    [0.3, 0.1], // 3t = 0.3
    [5, 1], // more than all traffic gives
    [0, 0],
  ])("at rate %s the brand's throttle is %s", (rate, want) => {
    expect(brandThrottle(rate, campaigns)).toBeCloseTo(want, 3);
  });
  it("is 1 while no campaign's demand is known", () => {
    expect(brandThrottle(1, [{ demand: null, cap: 1 }])).toBe(1);
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
