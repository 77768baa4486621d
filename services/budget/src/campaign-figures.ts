import type pg from "pg";
import { micros } from "./period-rules.js";

/** A campaign's figures as GetCampaignSpend answers them (money in micros). */
export interface CampaignFigures {
  /** Its spend counted toward the day asked for, with that day's cap and whether it was reached. */
  day: { spent: bigint; count: bigint; limit: bigint | null; exhausted: boolean };
  /** Its spend over its life, with the lifetime limit it is judged by and whether it was reached. */
  lifetime: { spent: bigint; limit: bigint | null; exhausted: boolean };
  /** Its flight's last day as the ledger knows it, "YYYY-MM-DD" (null: none). */
  endDate: string | null;
  /** The first day of its recent pace: `recentFrom`, or its flight's first day if later. */
  sinceDay: string;
  /** Its spend counted toward the days from `sinceDay` through `today`. */
  recent: bigint;
}

/**
 * Everything GetCampaignSpend says of one campaign of one brand, read in ONE statement, so its
 * figures agree with each other (a spend committing between two reads would show in the lifetime
 * total and not in the day's, or in the recent pace and not in the lifetime). Zeros and nulls for
 * a campaign the ledger never saw; another brand's campaign is one this brand never spent on.
 */
export async function readCampaignFigures(
  pool: pg.Pool,
  q: { brandId: string; campaignId: string; day: string; recentFrom: string; today: string },
): Promise<CampaignFigures> {
  const { rows } = await pool.query<{
    spent: string | null;
    cnt: string | null;
    lim: string | null;
    exhausted: boolean | null;
    life_spent: string | null;
    life_lim: string | null;
    life_exhausted: boolean | null;
    end: string | null;
    since: string;
    recent: string;
  }>(
    `select d.spent_micros::text as spent, d.event_count::text as cnt, d.limit_micros::text as lim, d.cap_exhausted as exhausted,
            l.spent_micros::text as life_spent, l.limit_micros::text as life_lim, l.exhausted as life_exhausted,
            s.end_date::text as end, greatest($4::date, s.start_date)::text as since,
            (select coalesce(sum(r.spent_micros), 0) from campaign_day_spend r
             where r.brand_id = k.brand_id and r.campaign_id = k.campaign_id
               and r.day >= greatest($4::date, s.start_date) and r.day <= $5::date)::text as recent
     from (select $1::uuid as brand_id, $2::uuid as campaign_id) k
     left join campaign_day_spend d on d.brand_id = k.brand_id and d.campaign_id = k.campaign_id and d.day = $3::date
     left join campaign_lifetime_spend l on l.brand_id = k.brand_id and l.campaign_id = k.campaign_id
     left join campaign_settings s on s.brand_id = k.brand_id and s.campaign_id = k.campaign_id`,
    [q.brandId, q.campaignId, q.day, q.recentFrom, q.today],
  );
  const r = rows[0];
  if (r === undefined) throw new Error("the campaign figures' statement answered no row");
  return {
    day: {
      spent: BigInt(r.spent ?? "0"),
      count: BigInt(r.cnt ?? "0"),
      limit: micros(r.lim),
      exhausted: r.exhausted ?? false,
    },
    lifetime: { spent: BigInt(r.life_spent ?? "0"), limit: micros(r.life_lim), exhausted: r.life_exhausted ?? false },
    endDate: r.end,
    sinceDay: r.since,
    recent: BigInt(r.recent),
  };
}
