import { LRUCache } from "lru-cache";
import type pg from "pg";
import { addDays, formatDate, startOfDay, type CalendarDate } from "@adbudget/time";
import { dayCurve, learnedProfile, type DayCurve } from "./pacing-curve.js";

/** Days of ledger a brand's hourly profile is learned from (the "last 14 days"): two of each weekday. */
export const PROFILE_DAYS = 14;

/**
 * Curves kept at most: one per paced brand and day (~2 KB each), so 10,000 is ~20 MB, above the
 * paced brands of an agency; the least recently used is read again from the ledger.
 */
const MAX_CURVES = 10_000;

/**
 * The target curves of paced days (pacing-curve.ts), each learned once per brand, day and zone
 * from the brand's spend per local hour over the PROFILE_DAYS days before it. The ledger read is
 * an aggregate over the brand's index (brand_id, occurred_at), once a day per replica; the past
 * days' spend no longer changes (late spend aside), so a curve never needs refreshing.
 */
export class PacingProfiles {
  private readonly cache: LRUCache<string, DayCurve, { brandId: string; day: CalendarDate; zone: string }>;

  constructor(pool: pg.Pool) {
    this.cache = new LRUCache({
      max: MAX_CURVES,
      fetchMethod: async (_key, _stale, { context }) => {
        const { brandId, day, zone } = context;
        const from = startOfDay(addDays(day, -PROFILE_DAYS), zone);
        const to = startOfDay(day, zone);
        const { rows } = await pool.query<{ h: number; s: string }>(
          `select extract(hour from occurred_at at time zone $2)::int as h, sum(amount_micros)::text as s
           from spend_events where brand_id = $1 and occurred_at >= $3 and occurred_at < $4 group by 1`,
          [brandId, zone, new Date(from), new Date(to)],
        );
        const totals = Array.from({ length: 24 }, () => 0n);
        for (const r of rows) if (r.h >= 0 && r.h < 24) totals[r.h] = BigInt(r.s);
        return dayCurve(day, zone, learnedProfile(totals));
      },
    });
  }

  /** The target curve of the brand's local day `day` in `zone`. */
  async curve(brandId: string, day: CalendarDate, zone: string): Promise<DayCurve> {
    const key = `${brandId}/${formatDate(day)}/${zone}`;
    const curve = await this.cache.fetch(key, { context: { brandId, day, zone } });
    // fetchMethod never answers undefined (it throws instead); the fallback keeps the type honest.
    return curve ?? dayCurve(day, zone, learnedProfile([]));
  }
}
