import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { OutboxMessage } from "@adbudget/kit";
import {
  CampaignSchema,
  CampaignStateChangeSchema,
  type Campaign,
  type CampaignStateChange,
} from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { CampaignStateChangedEventSchema } from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";
import { uuidv7 } from "@adbudget/kit";
import type { CampaignChange, CampaignRow, StateChangeRow } from "./campaign-store.js";
import { scheduleToProto } from "./schedule.js";

export function etagOf(c: Pick<CampaignRow, "version">): string {
  return `v${c.version}`;
}

export function campaignProto(c: CampaignRow): Campaign {
  return create(CampaignSchema, {
    id: c.id,
    brandId: c.brandId,
    name: c.name,
    enabled: c.enabled,
    schedule: scheduleToProto(c.schedule),
    serving: c.serving,
    pauseReasons: c.reasons,
    etag: etagOf(c),
    scheduleVersion: c.scheduleVersion,
    createTime: timestampFromDate(c.createdAt),
    updateTime: timestampFromDate(c.updatedAt),
  });
}

export function changeProto(s: StateChangeRow): CampaignStateChange {
  return create(CampaignStateChangeSchema, {
    id: s.id,
    campaignId: s.campaignId,
    brandId: s.brandId,
    fromServing: s.fromServing,
    toServing: s.toServing,
    fromReasons: s.fromReasons,
    toReasons: s.toReasons,
    cause: s.cause,
    sourceId: s.sourceId,
    changeTime: timestampFromDate(s.changedAt),
  });
}

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
      }),
    ),
  }));
}
