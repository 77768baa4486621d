import type pg from "pg";
import { CAMPAIGN_COLUMNS, toCampaign, type CampaignChange, type RawCampaign } from "./campaign-rows.js";

/** A CampaignThrottleEvent as applied: the campaign, the brand day it is for, its value and sequence. */
export interface ThrottleSignal {
  campaignId: string;
  /** "YYYY-MM-DD", the brand's local day. */
  day: string;
  /** In [0, 1]. */
  throttle: number;
  seq: bigint;
}

/**
 * Applies a throttle event to its campaign: the event of a later day, or a higher sequence of the
 * same day, replaces the stored throttle; an older one (a redelivery, or one overtaken in
 * flight) changes nothing. One statement, so the comparison and the write see the same row:
 * PostgreSQL re-reads a row another transaction changed before updating it, and re-checks the
 * condition on that version. It locks only this campaign's row and takes no other lock after
 * it, so it waits on no brand-wide write in a cycle (lock-order.ts).
 *
 * Every applied event is published (a throttle-only change, watched by ad servers): the budget
 * service publishes only moves worth telling, so comparing with the value before would only
 * risk hiding one behind a stale read.
 */
export async function applyThrottle(client: pg.ClientBase, s: ThrottleSignal): Promise<CampaignChange[]> {
  if (!(s.throttle >= 0 && s.throttle <= 1)) return [];
  const { rows } = await client.query<RawCampaign>(
    `update campaigns set throttle = $2, throttle_day = $3, throttle_seq = $4
     where id = $1 and deleted_at is null
       and (throttle_day is null or $3::date > throttle_day or ($3::date = throttle_day and $4::bigint > throttle_seq))
     returning ${CAMPAIGN_COLUMNS}`,
    [s.campaignId, s.throttle, s.day, s.seq.toString()],
  );
  return rows.map((r) => ({ campaign: toCampaign(r), throttleOnly: true }));
}
