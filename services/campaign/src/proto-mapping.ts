import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  CampaignSchema,
  CampaignStateChangeSchema,
  type Campaign,
  type CampaignStateChange,
} from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import type { CampaignRow, StateChangeRow } from "./campaign-rows.js";
import { parseDate } from "@adbudget/time";
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
    nextChangeTime: c.nextChangeAt === null ? undefined : timestampFromDate(c.nextChangeAt),
    startDate: c.startDate === null ? undefined : parseDate(c.startDate),
    endDate: c.endDate === null ? undefined : parseDate(c.endDate),
    dailyLimitMicros: c.dailyLimitMicros ?? undefined,
    throttle: c.throttle,
    throttleExpireTime: c.throttleUntil === null ? undefined : timestampFromDate(c.throttleUntil),
    lifetimeLimitMicros: c.lifetimeLimitMicros ?? undefined,
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
    principal: s.principal,
    changeTime: timestampFromDate(s.changedAt),
  });
}
