import { create, toBinary } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { uuidv7, type Actor, type OutboxMessage } from "@adbudget/kit";
import { BrandChangeType, BrandChangedEventSchema } from "@adbudget/proto/adbudget/brand/v1/events_pb.js";
import { toProto } from "./brand-proto.js";
import type { BrandChange } from "./brand-store.js";
import type { BrandRow } from "./entities.js";

export const OUTBOX_CHANNEL = "brand_outbox";
export const OUTBOX_LOCK_KEY = 0x6272616e; // "bran"

const TYPES: Record<BrandChange, BrandChangeType> = {
  created: BrandChangeType.CREATED,
  updated: BrandChangeType.UPDATED,
  archived: BrandChangeType.ARCHIVED,
};

/** The BrandChangedEvent of a change, on `<prefix>.brand.changed.<brandId>`, naming who made it. */
export function brandEvent(prefix: string, row: BrandRow, type: BrandChange, now: Date, actor: Actor): OutboxMessage {
  const eventId = uuidv7(now.getTime());
  return {
    eventId,
    aggregateId: row.id,
    subject: `${prefix}.brand.changed.${row.id}`,
    payload: toBinary(
      BrandChangedEventSchema,
      create(BrandChangedEventSchema, {
        eventId,
        type: TYPES[type],
        brand: toProto(row),
        occurTime: timestampFromDate(now),
        version: BigInt(row.version),
        principal: actor.principal,
        requestId: actor.requestId,
      }),
    ),
  };
}
