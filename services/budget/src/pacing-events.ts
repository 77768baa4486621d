import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type pg from "pg";
import { nextOutboxIds, uuidv7, writeOutbox, type OutboxMessage } from "@adbudget/kit";
import { CampaignThrottleEventSchema } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { parseDate } from "@adbudget/time";
import { OUTBOX_CHANNEL } from "./events.js";

/** A campaign's throttle for one brand day, to publish. */
export interface ThrottleChange {
  brandId: string;
  campaignId: string;
  /** "YYYY-MM-DD", the brand's local day. */
  day: string;
  throttle: number;
  /** The end of that day: the throttle holds until then. */
  expiresAtMs: number;
}

/** Subject: `<prefix>.budget.throttle.<brandId>`. */
export function throttleSubject(prefix: string, brandId: string): string {
  return `${prefix}.budget.throttle.${brandId}`;
}

/**
 * Writes CampaignThrottleEvents to the outbox in the caller's transaction and records each as
 * the campaign's published throttle, with the outbox id as its sequence (increasing in commit
 * order, so the campaign service keeps the last one committed whatever order they arrive in).
 */
export async function writeThrottleEvents(
  client: pg.ClientBase,
  prefix: string,
  changes: ThrottleChange[],
  nowMs: number,
): Promise<void> {
  if (changes.length === 0) return;
  const ids = await nextOutboxIds(client, changes.length);
  await client.query(
    `insert into pacing_published (campaign_id, brand_id, day, throttle, published_at)
     select * from unnest($1::uuid[], $2::uuid[], $3::date[], $4::float8[], $5::timestamptz[])
     on conflict (campaign_id) do update set day = excluded.day, throttle = excluded.throttle, published_at = excluded.published_at`,
    [
      changes.map((c) => c.campaignId),
      changes.map((c) => c.brandId),
      changes.map((c) => c.day),
      changes.map((c) => c.throttle),
      changes.map(() => new Date(nowMs)),
    ],
  );
  const messages = changes.map((c, i): OutboxMessage => {
    const eventId = uuidv7(nowMs);
    const payload = toBinary(
      CampaignThrottleEventSchema,
      create(CampaignThrottleEventSchema, {
        eventId,
        brandId: c.brandId,
        campaignId: c.campaignId,
        period: { kind: PeriodKind.DAY, start: parseDate(c.day) },
        throttle: c.throttle,
        occurTime: timestampFromMs(nowMs),
        sequence: ids[i],
        expireTime: timestampFromMs(c.expiresAtMs),
      }),
    );
    return { eventId, aggregateId: c.campaignId, subject: throttleSubject(prefix, c.brandId), payload };
  });
  await writeOutbox(client, OUTBOX_CHANNEL, messages, nowMs, ids);
}
