import { defineEntity, p, type InferEntity } from "@mikro-orm/core";
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

/** Every table of the brand service, as the ORM sees it (a test diffs them against the migrations). */
export const entities = [BrandEntity, OutboxEntity];
