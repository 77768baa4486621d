/*
 * The pacing simulator's synthetic traffic (pure, seeded): serving opportunities over a local day
 * with a diurnal curve and noise, and the price of each. Written apart from the services' code:
 * nothing here knows the target curve or the controller.
 */

/** A small seeded PRNG (mulberry32): the same seed gives the same day, for the twin brands. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The shape of a day's traffic at local hour `h` (0-24, fractional): a night floor of 0.12, a
 * morning shoulder around 09:00 and the peak around 20:00, as display traffic in one market.
 */
export function diurnal(h: number): number {
  const bump = (center: number, width: number) => Math.exp(-(((h - center) / width) ** 2));
  return 0.12 + 0.45 * bump(9, 2.2) + 0.9 * bump(20, 2.6);
}

/** The integral of `diurnal` over the day, by the midpoint rule (1-minute steps: exact to 1e-6). */
export const DIURNAL_DAY = (() => {
  let s = 0;
  for (let m = 0; m < 1440; m++) s += diurnal((m + 0.5) / 60) / 60;
  return s;
})();

/** A Poisson draw of mean `mean` (Knuth's method for small means, a normal approximation above 30). */
export function poisson(random: () => number, mean: number): number {
  if (mean <= 0) return 0;
  if (mean > 30) {
    const u = Math.max(random(), 1e-12);
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
    return Math.max(0, Math.round(mean + Math.sqrt(mean) * z));
  }
  const l = Math.exp(-mean);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= random();
  } while (p > l);
  return k - 1;
}

/** One brand's traffic: opportunities per local hour-of-day, and the price of each (micros). */
export interface Traffic {
  /** Opportunities the whole day would bring at throttle 1. */
  perDay: number;
  /** Mean price of one opportunity served (micros); each is drawn within +-40% of it. */
  meanPriceMicros: number;
  /** Slow noise: the day's curve is multiplied by 1 + this * a random walk in [-1, 1]. */
  wobble: number;
}

/** Expected opportunities in [fromH, toH) local hours (fractional) at throttle 1. */
export function expectedOpportunities(t: Traffic, fromH: number, toH: number, wobbleNow: number): number {
  const mid = (fromH + toH) / 2;
  return (t.perDay * diurnal(mid) * (toH - fromH) * (1 + t.wobble * wobbleNow)) / DIURNAL_DAY;
}

/** The price of one served opportunity. */
export function price(t: Traffic, random: () => number): bigint {
  return BigInt(Math.round(t.meanPriceMicros * (0.6 + 0.8 * random())));
}

/** A bounded random walk in [-1, 1] (slow noise on the curve: a busy or quiet afternoon). */
export function walk(random: () => number): () => number {
  let x = 0;
  return () => {
    x = Math.max(-1, Math.min(1, x + (random() - 0.5) * 0.08));
    return x;
  };
}
