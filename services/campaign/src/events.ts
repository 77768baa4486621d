import { create, toBinary } from "@bufbuild/protobuf";
import { uuidv7, type OutboxMessage } from "@adbudget/kit";
import { CampaignStateChangedEventSchema } from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";
import type { CampaignChange } from "./campaign-rows.js";
import { campaignProto, changeProto } from "./proto-mapping.js";

/** The LISTEN/NOTIFY channel of the campaign outbox, and its relay's advisory lock key. */
export const OUTBOX_CHANNEL = "campaign_outbox";
export const OUTBOX_LOCK_KEY = 0x63616d70; // "camp"

/** Subject of a campaign's events: `<prefix>.campaign.state.<campaignId>`. */
export function stateSubject(prefix: string, campaignId: string): string {
  return `${prefix}.campaign.state.${campaignId}`;
}

/**
 * One CampaignStateChangedEvent per changed campaign. Serving-state changes carry their audit
 * entry (whose id is the Nats-Msg-Id); settings-only changes and deletes carry just the campaign
 * (a fresh id), so watchers on every replica see every committed change.
 */
export function outboxMessages(prefix: string, changes: CampaignChange[], nowMs: number): OutboxMessage[] {
  return changes.map((c) => ({
    eventId: c.stateChange?.id ?? uuidv7(nowMs),
    aggregateId: c.campaign.id,
    subject: stateSubject(prefix, c.campaign.id),
    payload: toBinary(
      CampaignStateChangedEventSchema,
      create(CampaignStateChangedEventSchema, {
        change: c.stateChange ? changeProto(c.stateChange) : undefined,
        campaign: campaignProto(c.campaign),
        deleted: c.deleted ?? false,
        principal: c.principal ?? "",
        requestId: c.requestId ?? "",
        throttleOnly: c.throttleOnly ?? false,
        throttleSequence: c.campaign.throttleSeq,
      }),
    ),
  }));
}
