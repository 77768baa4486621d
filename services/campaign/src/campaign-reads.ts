import type pg from "pg";
import { NotFoundError } from "@adbudget/kit";
import type { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import {
  CAMPAIGN_COLUMNS,
  toCampaign,
  type CampaignRow,
  type RawCampaign,
  type StateChangeRow,
} from "./campaign-rows.js";

/*
 * The campaign service's reads outside any write: one campaign, the pages of ListCampaigns,
 * ListCampaignStateChanges and the Watch snapshot, and the gauges. They take no lock (a read in
 * a write goes through lock-order.ts) and run on the pool, each in a statement of its own.
 */

/** A live campaign, read without a lock, or NotFoundError. */
export async function getCampaign(db: pg.ClientBase | pg.Pool, id: string): Promise<CampaignRow> {
  const { rows } = await db.query<RawCampaign>(
    `select ${CAMPAIGN_COLUMNS} from campaigns where id = $1 and deleted_at is null`,
    [id],
  );
  if (!rows[0]) throw new NotFoundError("campaign", id);
  return toCampaign(rows[0]);
}

/** Which campaigns a page lists: one brand ("" = any) and, when `brands` is set, only of those. */
export interface CampaignFilter {
  brandId: string;
  brands?: ReadonlySet<string>;
  serving?: boolean;
  /** The last id of the previous page (keyset). */
  after?: string;
  limit: number;
}

/** Live campaigns in id order, of one brand ("" = any) and, when `brands` is set, only of those. */
export async function listCampaigns(pool: pg.Pool, filter: CampaignFilter): Promise<CampaignRow[]> {
  const { rows } = await pool.query<RawCampaign>(
    `select ${CAMPAIGN_COLUMNS} from campaigns
     where deleted_at is null and ($1::uuid is null or brand_id = $1) and ($2::boolean is null or serving = $2)
       and ($3::uuid is null or id > $3) and ($5::uuid[] is null or brand_id = any($5))
     order by id limit $4`,
    [
      filter.brandId || null,
      filter.serving ?? null,
      filter.after ?? null,
      filter.limit,
      filter.brands ? [...filter.brands] : null,
    ],
  );
  return rows.map(toCampaign);
}

/** Every live campaign (optionally of one brand), for the Watch snapshot, in id order. */
export async function snapshot(
  pool: pg.Pool,
  brandId: string,
  brands: ReadonlySet<string> | undefined,
  after: string | undefined,
  limit: number,
): Promise<CampaignRow[]> {
  return listCampaigns(pool, { brandId, brands, after, limit });
}

/** Which audit rows a page lists: by campaign and/or brand ("" = any), only of `brands` when set. */
export interface StateChangeFilter {
  campaignId: string;
  brandId: string;
  brands?: ReadonlySet<string>;
  /** The last id of the previous page (keyset, newest first). */
  before?: string;
  limit: number;
}

/** An audit row as selected; the reasons are the enum's values as stored. */
interface RawStateChange {
  id: string;
  campaign_id: string;
  brand_id: string;
  from_serving: boolean;
  to_serving: boolean;
  from_reasons: PauseReason[];
  to_reasons: PauseReason[];
  cause: string;
  source_id: string;
  principal: string;
  changed_at: Date;
}

/** The audit log, newest first, by campaign and/or brand, and when `brands` is set only of those. */
export async function listStateChanges(pool: pg.Pool, filter: StateChangeFilter): Promise<StateChangeRow[]> {
  const { rows } = await pool.query<RawStateChange>(
    `select id::text, campaign_id::text, brand_id::text, from_serving, to_serving, from_reasons, to_reasons, cause, source_id,
            principal, changed_at
     from state_changes
     where ($1::uuid is null or campaign_id = $1) and ($2::uuid is null or brand_id = $2) and ($3::uuid is null or id < $3)
       and ($5::uuid[] is null or brand_id = any($5))
     order by id desc limit $4`,
    [
      filter.campaignId || null,
      filter.brandId || null,
      filter.before ?? null,
      filter.limit,
      filter.brands ? [...filter.brands] : null,
    ],
  );
  return rows.map((r) => ({
    id: r.id,
    campaignId: r.campaign_id,
    brandId: r.brand_id,
    fromServing: r.from_serving,
    toServing: r.to_serving,
    fromReasons: r.from_reasons,
    toReasons: r.to_reasons,
    cause: r.cause,
    sourceId: r.source_id,
    principal: r.principal,
    changedAt: r.changed_at,
  }));
}

/** Live campaigns by serving state (the metrics gauges). */
export async function countByServing(pool: pg.Pool): Promise<{ serving: number; paused: number }> {
  const { rows } = await pool.query<{ serving: string; paused: string }>(
    `select count(*) filter (where serving)::text as serving, count(*) filter (where not serving)::text as paused
     from campaigns where deleted_at is null`,
  );
  const [counts] = rows;
  // An aggregate without group by answers exactly one row.
  if (counts === undefined) throw new Error("the count of campaigns answered no row");
  return { serving: Number(counts.serving), paused: Number(counts.paused) };
}

/** The brand of a campaign, deleted ones included (their audit log stays readable). */
export async function brandOfCampaign(pool: pg.Pool, id: string): Promise<string | undefined> {
  const { rows } = await pool.query<{ brand_id: string }>("select brand_id::text from campaigns where id = $1", [id]);
  return rows[0]?.brand_id;
}
