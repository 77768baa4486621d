import { defineEntity, p, type InferEntity } from "@mikro-orm/core";
import type { JsonValue } from "@bufbuild/protobuf";
import { OutboxEntity } from "@adbudget/kit";

/**
 * A brand row. `version` increments on every change: it is the etag (optimistic concurrency
 * for UpdateBrand) and orders brand events for consumers.
 */
export const BrandEntity = defineEntity({
  name: "Brand",
  tableName: "brands",
  properties: {
    id: p.uuid().primary(),
    name: p.string().length(200).unique("brands_name_key"),
    timeZone: p.string().length(64),
    timeZoneLocked: p.boolean().default(false),
    currencyCode: p.string().columnType("char(3)"),
    archived: p.boolean().default(false),
    version: p.bigint("number").defaultRaw("1"),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    archivedAt: p.datetime().nullable(),
  },
  // ListBrands without archived ones pages through the active brands in id order.
  indexes: [{ name: "brands_active_idx", properties: ["id"], where: "not archived" }],
});

export type BrandRow = InferEntity<typeof BrandEntity>;

/**
 * The brand's audit log: one row per change a call made (create, update, archive), written in
 * the change's transaction with its caller, request id and the brand before and after.
 */
export const BrandChangeEntity = defineEntity({
  name: "BrandChange",
  tableName: "brand_changes",
  properties: {
    id: p.uuid().primary(),
    brandId: p.uuid(),
    principal: p.text(),
    requestId: p.text(),
    action: p.string().length(16),
    changedAt: p.datetime(),
    /** The brand before and after, as its API shows it (proto JSON of Brand). */
    before: p.json<JsonValue>().nullable(),
    after: p.json<JsonValue>(),
  },
  // ListBrandChanges: a brand's changes, newest first (UUIDv7 ids: time order).
  indexes: [{ name: "brand_changes_brand_idx", properties: ["brandId", "id"] }],
});

export type BrandChangeRow = InferEntity<typeof BrandChangeEntity>;

/** Every table of the brand service, as the ORM sees it (a test diffs them against the migrations). */
export const entities = [BrandEntity, BrandChangeEntity, OutboxEntity];
