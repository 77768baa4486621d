import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  RecordSpendRequestSchema,
  type RecordSpendRequest,
} from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";

/** One spend event as an ad server reports it. */
export interface SpendEvent {
  /** Unique within the brand, forever (the impression's or billing event's id): 1 to 128 characters. */
  eventId: string;
  brandId: string;
  campaignId: string;
  /** Micros of the brand's currency: > 0 and <= 10^15. */
  amountMicros: bigint;
  /** When the spend happened (ms since the epoch); absent: when `report` accepted it. */
  occurredAtMs?: number;
}

/** An accepted event: its instant fixed, so every send of it has the same body. */
export interface StampedEvent extends SpendEvent {
  occurredAtMs: number;
}

/** The service's bound on one event (budget_service.proto): one billion units. */
export const MAX_AMOUNT_MICROS = 1_000_000_000_000_000n;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Throws a RangeError naming the field when `event` could never be recorded, so a bug in the ad
 * server fails where it is made instead of as a rejection a batch later. Answers the event with
 * its instant fixed.
 */
export function stampEvent(event: SpendEvent, nowMs: number): StampedEvent {
  const { eventId, brandId, campaignId, amountMicros, occurredAtMs } = event;
  if (typeof eventId !== "string" || eventId.length < 1 || eventId.length > 128)
    throw new RangeError("spend event: event_id must have 1 to 128 characters");
  if (typeof brandId !== "string" || !UUID.test(brandId)) throw new RangeError("spend event: brand_id must be a UUID");
  if (typeof campaignId !== "string" || !UUID.test(campaignId))
    throw new RangeError("spend event: campaign_id must be a UUID");
  if (typeof amountMicros !== "bigint" || amountMicros <= 0n || amountMicros > MAX_AMOUNT_MICROS)
    throw new RangeError("spend event: amount_micros must be a bigint > 0 and <= 10^15");
  if (occurredAtMs !== undefined && !Number.isSafeInteger(occurredAtMs))
    throw new RangeError("spend event: occurred_at must be an integer of ms since the epoch");
  return { eventId, brandId, campaignId, amountMicros, occurredAtMs: occurredAtMs ?? nowMs };
}

/** The event as one of RecordSpendBatch's requests. */
export function spendRequest(e: StampedEvent): RecordSpendRequest {
  return create(RecordSpendRequestSchema, {
    eventId: e.eventId,
    brandId: e.brandId,
    campaignId: e.campaignId,
    amountMicros: e.amountMicros,
    occurredAt: timestampFromMs(e.occurredAtMs),
  });
}

/** One spool record (docs/sdk.md): micros as a decimal string, as protobuf JSON writes an int64 (a reader need not know the bound keeps it below 2^53). */
export function spoolRecord(e: StampedEvent): {
  id: string;
  brand: string;
  campaign: string;
  micros: string;
  at: number;
} {
  return {
    id: e.eventId,
    brand: e.brandId,
    campaign: e.campaignId,
    micros: e.amountMicros.toString(),
    at: e.occurredAtMs,
  };
}

/** The record as one line of a spool segment. */
export function spoolLine(e: StampedEvent): string {
  return `${JSON.stringify(spoolRecord(e))}\n`;
}

/** The event of a spool line; undefined for a line that is not one (a torn last write). */
export function parseSpoolLine(line: string): StampedEvent | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const { id, brand, campaign, micros, at } = v as Record<string, unknown>;
  if (typeof id !== "string" || typeof brand !== "string" || typeof campaign !== "string") return undefined;
  if (typeof micros !== "string" || !/^[0-9]{1,16}$/.test(micros) || typeof at !== "number") return undefined;
  try {
    return stampEvent(
      { eventId: id, brandId: brand, campaignId: campaign, amountMicros: BigInt(micros), occurredAtMs: at },
      at,
    );
  } catch {
    return undefined;
  }
}
