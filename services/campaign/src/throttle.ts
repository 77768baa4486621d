import type pg from "pg";
import { CAMPAIGN_COLUMNS, toCampaign, type CampaignChange, type RawCampaign } from "./campaign-rows.js";

/** A CampaignThrottleEvent as applied. */
export interface ThrottleSignal {
  brandId: string;
  campaignId: string;
  /** "YYYY-MM-DD", the brand's local day it was computed for. */
  day: string;
  /** In [0, 1]. */
  throttle: number;
  /** The end of that day: the throttle holds until then. */
  until: Date;
  seq: bigint;
}

/**
 * Applies a throttle event to its campaign: an event with a higher sequence than the one stored
 * replaces the throttle, any other (a redelivery, or one overtaken in flight) changes nothing.
 * The budget service's pacing ticks one at a time (an advisory lock) and draws the sequence
 * inside the tick, so sequences follow commit order: the highest is the newest, whatever day it
 * names (ordering by day first would let a replica whose clock lags at midnight be ignored while
 * it records its value as told). One statement, so the comparison and the write see the same row:
 * PostgreSQL re-reads a row another transaction changed before updating it and re-checks the
 * condition on that version. It locks only this campaign's row and takes no other lock after
 * it, so it waits on no brand-wide write in a cycle (lock-order.ts). The brand must match: an
 * event never moves another brand's campaign.
 *
 * Every applied event is published (a throttle-only change, watched by ad servers): the budget
 * service publishes only moves worth telling, so comparing with the value before would only
 * risk hiding one behind a stale read.
 */
export async function applyThrottle(client: pg.ClientBase, s: ThrottleSignal): Promise<CampaignChange[]> {
  if (!(s.throttle >= 0 && s.throttle <= 1) || Number.isNaN(s.until.getTime())) return [];
  const { rows } = await client.query<RawCampaign>(
    `update campaigns set throttle = $3, throttle_day = $4, throttle_seq = $5, throttle_until = $6
     where id = $1 and brand_id = $2 and deleted_at is null and $5::bigint > throttle_seq
     returning ${CAMPAIGN_COLUMNS}`,
    [s.campaignId, s.brandId, s.throttle, s.day, s.seq.toString(), s.until],
  );
  return rows.map((r) => ({ campaign: toCampaign(r), throttleOnly: true }));
}
