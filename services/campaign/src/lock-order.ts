import type pg from "pg";
import { CAMPAIGN_COLUMNS, toCampaign, type CampaignRow, type RawCampaign } from "./campaign-rows.js";

/**
 * THE LOCK ORDER of the campaign service, followed by every transaction that writes campaigns
 * (the API, the daypart clock, the budget, cap and brand consumers, the period openings,
 * reconciliation). Every store module links here; the locks themselves are taken only by the
 * functions of this file.
 *
 * 1. The brand's `brand_state` row first (several brands: their rows in id order).
 *    - A write to the whole brand (a budget or cap signal, a brand change, a campaign created
 *      with newer brand data, reconciliation) locks it FOR UPDATE (`lockBrand`).
 *    - A write to single campaigns (the API, the daypart clock) locks it FOR SHARE
 *      (`lockBrands(…, "share")`), so those run side by side, while a brand-wide write waits
 *      for them and they for it.
 * 2. Then campaign rows, in id order (`lockCampaign`, `lockCampaigns`, `lockBrandCampaigns`).
 *
 * `budget_flags` rows are only written under their brand's FOR UPDATE lock. The brand's state
 * is read AFTER its lock, in a statement of its own (brand-state.ts): a state read before the
 * lock (or in the statement that waited for it) can be one that a brand-wide write then changed,
 * and a campaign judged by it ends wrong (a cap raise read "day open", the day's exhaustion
 * committed, the raise saved the campaign serving). A brand without a row yet has nothing to
 * lock: its first writer creates the row under the unique index, which serializes the creators.
 */
export type LockMode = "share" | "update";

/** Step 1 for a brand-wide write: the brand's row FOR UPDATE (nothing if it has none yet). */
export async function lockBrand(client: pg.ClientBase, brandId: string): Promise<void> {
  await client.query("select 1 from brand_state where brand_id = $1 for update", [brandId]);
}

/** Step 1 for several brands at once, in id order: FOR SHARE for single-campaign writes. */
export async function lockBrands(client: pg.ClientBase, brandIds: string[], mode: LockMode): Promise<void> {
  if (brandIds.length === 0) return;
  // The mode is spelled out, never interpolated: SQL is built here from constants only.
  const sql = `select 1 from brand_state where brand_id = any($1::uuid[]) order by brand_id for ${mode === "share" ? "share" : "update"}`;
  await client.query(sql, [brandIds]);
}

/** Step 2: one live campaign, locked (undefined if there is none). Its brand is locked already. */
export async function lockCampaign(client: pg.ClientBase, id: string): Promise<CampaignRow | undefined> {
  const sql = `select ${CAMPAIGN_COLUMNS} from campaigns where id = $1 and deleted_at is null for update`;
  const { rows } = await client.query<RawCampaign>(sql, [id]);
  return rows[0] === undefined ? undefined : toCampaign(rows[0]);
}

/** Step 2: several live campaigns, locked in id order, by id. Their brands are locked already. */
export async function lockCampaigns(client: pg.ClientBase, ids: string[]): Promise<Map<string, CampaignRow>> {
  const sql = `select ${CAMPAIGN_COLUMNS} from campaigns
    where id = any($1::uuid[]) and deleted_at is null order by id for update`;
  const { rows } = await client.query<RawCampaign>(sql, [ids]);
  return new Map(rows.map((r) => [r.id, toCampaign(r)]));
}

/** Step 2 of a brand-wide write: every live campaign of the brand, locked in id order. */
export async function lockBrandCampaigns(client: pg.ClientBase, brandId: string): Promise<CampaignRow[]> {
  const sql = `select ${CAMPAIGN_COLUMNS} from campaigns
    where brand_id = $1 and deleted_at is null order by id for update`;
  const { rows } = await client.query<RawCampaign>(sql, [brandId]);
  return rows.map(toCampaign);
}
