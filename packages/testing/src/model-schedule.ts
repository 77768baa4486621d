import fc from "fast-check";

/**
 * Random schedules of everything that moves a campaign's serving state, for the model-based race
 * test (model-run.ts): spend (now, late, dated ahead), limit and cap changes, pauses, daypart
 * clock calls, clock jumps across local midnights, resets, zone changes, redeliveries of old
 * messages and reconciliation, split over workers that run side by side.
 *
 * Writes to one brand's limits and zone go to one worker, and so do writes to one campaign's cap
 * and intent, so the final value of each input is the last one in that worker's order: what the
 * reference model reads. Everything else lands on any worker and interleaves freely.
 */

/**
 * Zones with a midnight that is no UTC hour (Kathmandu), DST both ways (New York, London,
 * Santiago), and both ends of the offsets (+14 Kiritimati, -11 Pago Pago: a zone move between
 * them puts the current day two days back, the flags the campaign service must keep).
 */
export const MODEL_ZONES = [
  "UTC",
  "America/New_York",
  "Asia/Tokyo",
  "Asia/Kathmandu",
  "America/Santiago",
  "Europe/London",
  "Pacific/Kiritimati",
  "Pacific/Pago_Pago",
] as const;

export interface ModelBrandSpec {
  zone: string;
  daily: bigint | null;
  monthly: bigint | null;
  /** Changes its zone (allowed before its first spend): it gets no spend. */
  mover: boolean;
}

export interface ModelCampaignSpec {
  brand: number;
  enabled: boolean;
  cap: bigint | null;
  /** Has a schedule (one window of the whole week), so daypart clock calls move it. */
  scheduled: boolean;
}

export type ModelOp =
  | { t: "spend"; campaign: number; amount: bigint; offsetMs: number; replica: number }
  | { t: "limits"; brand: number; daily?: bigint | null; monthly?: bigint | null }
  | { t: "cap"; campaign: number; cap: bigint | null }
  | { t: "enable"; campaign: number; enabled: boolean }
  | { t: "daypart"; campaign: number; inWindow: boolean; replica: number }
  | { t: "advance"; ms: number }
  | { t: "reset"; brand: number; replica: number }
  | { t: "zone"; brand: number; zone: string }
  | { t: "redeliver"; stream: "budget" | "brand" | "campaign"; pick: number }
  | { t: "reconcile"; brand: number; replica: number };

export interface ModelSchedule {
  /**
   * The clock starts `beforeMs` before the first local midnight (or 1st of a month) of `zone`
   * after `daysAfter` days past the run's fixed epoch (model-run.ts).
   */
  start: { zone: string; firstOfMonth: boolean; beforeMs: number; daysAfter: number };
  brands: ModelBrandSpec[];
  campaigns: ModelCampaignSpec[];
  /** Each worker's operations, run in order; the workers run at once. */
  workers: ModelOp[][];
}

const M = 1_000_000n;
const limit = fc.constantFrom<bigint | null>(null, null, 0n, 5n * M, 10n * M, 20n * M, 40n * M);
const cap = fc.constantFrom<bigint | null>(null, 3n * M, 8n * M, 15n * M);
const zone = fc.constantFrom(...MODEL_ZONES);

/** A schedule with `brands` brands (the last one changes zone), two or three campaigns each, and up to `ops` operations. */
export function modelSchedule(
  options: { brands?: number; maxOps?: number; workers?: number } = {},
): fc.Arbitrary<ModelSchedule> {
  const brandCount = options.brands ?? 3;
  const maxOps = options.maxOps ?? 40;
  const workerCount = options.workers ?? 4;
  const brands = fc.tuple(
    ...Array.from({ length: brandCount }, (_, i) =>
      fc
        .record({ zone, daily: limit, monthly: limit })
        .map((b): ModelBrandSpec => ({ ...b, mover: i === brandCount - 1 })),
    ),
  );
  return brands.chain((bs) => {
    const campaigns = fc
      .tuple(
        ...bs.map((_, b) =>
          fc
            .array(fc.record({ cap, scheduled: fc.boolean() }), { minLength: 2, maxLength: 3 })
            .map((cs) => cs.map((c): ModelCampaignSpec => ({ brand: b, enabled: true, ...c }))),
        ),
      )
      .map((per) => per.flat());
    return fc
      .record({
        start: fc.record({
          zone: fc.constantFrom(...bs.map((b) => b.zone)),
          firstOfMonth: fc.boolean(),
          beforeMs: fc.integer({ min: 2_000, max: 30_000 }),
          daysAfter: fc.nat(364),
        }),
        campaigns,
      })
      .chain(({ start, campaigns: cs }) => {
        const spenders = cs
          .map((c, i) => ({ c, i }))
          .filter(({ c }) => !bs[c.brand].mover)
          .map(({ i }) => i);
        const op: fc.Arbitrary<ModelOp> = fc.oneof(
          {
            weight: 6,
            arbitrary: fc.record({
              t: fc.constant("spend" as const),
              campaign: fc.constantFrom(...spenders),
              amount: fc.integer({ min: 1, max: 6 }).map((n) => BigInt(n) * M),
              offsetMs: fc.constantFrom(0, 0, 0, -3_600_000, 240_000, -26 * 3_600_000),
              replica: fc.nat(1),
            }),
          },
          {
            weight: 2,
            arbitrary: fc.record(
              { t: fc.constant("limits" as const), brand: fc.nat(bs.length - 1), daily: limit, monthly: limit },
              { requiredKeys: ["t", "brand"] },
            ),
          },
          { weight: 2, arbitrary: fc.record({ t: fc.constant("cap" as const), campaign: fc.nat(cs.length - 1), cap }) },
          {
            weight: 1,
            arbitrary: fc.record({
              t: fc.constant("enable" as const),
              campaign: fc.nat(cs.length - 1),
              enabled: fc.boolean(),
            }),
          },
          {
            weight: 2,
            arbitrary: fc.record({
              t: fc.constant("daypart" as const),
              campaign: fc.nat(cs.length - 1),
              inWindow: fc.boolean(),
              replica: fc.nat(1),
            }),
          },
          {
            weight: 2,
            arbitrary: fc.record({
              t: fc.constant("advance" as const),
              ms: fc.constantFrom(1_000, 5_000, 20_000, 60_000),
            }),
          },
          {
            weight: 2,
            arbitrary: fc.record({
              t: fc.constant("reset" as const),
              brand: fc.nat(bs.length - 1),
              replica: fc.nat(1),
            }),
          },
          {
            weight: 1,
            arbitrary: fc.record({ t: fc.constant("zone" as const), brand: fc.constant(bs.length - 1), zone }),
          },
          {
            weight: 2,
            arbitrary: fc.record({
              t: fc.constant("redeliver" as const),
              stream: fc.constantFrom("budget" as const, "brand" as const, "campaign" as const),
              pick: fc.nat(),
            }),
          },
          {
            weight: 1,
            arbitrary: fc.record({
              t: fc.constant("reconcile" as const),
              brand: fc.nat(bs.length - 1),
              replica: fc.nat(1),
            }),
          },
        );
        return fc
          .array(fc.tuple(op, fc.nat(workerCount - 1)), {
            minLength: Math.ceil(maxOps / 2),
            maxLength: maxOps,
            size: "max",
          })
          .map((ops): ModelSchedule => {
            const workers: ModelOp[][] = Array.from({ length: workerCount }, () => []);
            for (const [o, w] of ops) workers[ownerOf(o, workerCount) ?? w].push(o);
            return { start, brands: bs, campaigns: cs, workers };
          });
      });
  });
}

/** The worker that owns an operation's input (its last write is then known), or none. */
function ownerOf(op: ModelOp, workers: number): number | undefined {
  if (op.t === "limits" || op.t === "zone") return op.brand % workers;
  if (op.t === "cap" || op.t === "enable") return (op.campaign + 1) % workers;
  return undefined;
}
