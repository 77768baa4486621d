import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import { keysetPage, uuidv7, type Actor } from "@adbudget/kit";
import {
  CampaignChangeSchema,
  CampaignSchema,
  type CampaignChange,
} from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import type { CampaignRow } from "./campaign-rows.js";
import { campaignProto } from "./proto-mapping.js";

/** What a call did to a campaign, as its audit row names it. */
export type CampaignAction = "create" | "update" | "pause" | "resume" | "delete";

/**
 * Records a change a call made in its transaction (committed with it, or not at all): the
 * campaign before and after as its API shows it, so the log reads like the API and survives
 * changes of the table's columns.
 */
export async function recordCampaignChange(
  client: pg.ClientBase,
  change: { action: CampaignAction; before: CampaignRow | undefined; after: CampaignRow; actor: Actor; now: Date },
): Promise<void> {
  const json = (c: CampaignRow) => JSON.stringify(toJson(CampaignSchema, campaignProto(c)));
  await client.query(
    `insert into campaign_changes (id, campaign_id, brand_id, principal, request_id, action, changed_at, before, after)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [
      uuidv7(change.now.getTime()),
      change.after.id,
      change.after.brandId,
      change.actor.principal,
      change.actor.requestId,
      change.action,
      change.now,
      change.before === undefined ? null : json(change.before),
      json(change.after),
    ],
  );
}

interface RawChange {
  id: string;
  campaign_id: string;
  brand_id: string;
  principal: string;
  request_id: string;
  action: string;
  changed_at: Date;
  before: JsonValue | null;
  after: JsonValue;
}

/** A campaign's changes, newest first, keyset-paged by id (UUIDv7: time order). */
export async function listCampaignChanges(
  pool: pg.Pool,
  campaignId: string,
  req: { pageSize: number; pageToken: string },
): Promise<{ changes: CampaignChange[]; nextPageToken: string }> {
  const { rows, nextPageToken } = await keysetPage(
    req,
    { c: campaignId },
    async (before, limit) =>
      (
        await pool.query<RawChange>(
          `select id::text, campaign_id::text, brand_id::text, principal, request_id, action, changed_at, before, after
           from campaign_changes where campaign_id = $1 and ($2::uuid is null or id < $2) order by id desc limit $3`,
          [campaignId, before ?? null, limit],
        )
      ).rows,
    (r) => r.id,
  );
  return {
    nextPageToken,
    changes: rows.map((r) =>
      create(CampaignChangeSchema, {
        id: r.id,
        campaignId: r.campaign_id,
        brandId: r.brand_id,
        principal: r.principal,
        requestId: r.request_id,
        changeTime: timestampFromDate(r.changed_at),
        action: r.action,
        // A field the API has since dropped is passed over: the log stays readable.
        before: r.before === null ? undefined : fromJson(CampaignSchema, r.before, { ignoreUnknownFields: true }),
        after: fromJson(CampaignSchema, r.after, { ignoreUnknownFields: true }),
      }),
    ),
  };
}
