import { defineEntity, p, type InferEntity } from "@mikro-orm/core";

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
    currencyCode: p.string().length(3),
    archived: p.boolean().default(false),
    version: p.bigint("number").default(1),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    archivedAt: p.datetime().nullable(),
  },
});

export type BrandRow = InferEntity<typeof BrandEntity>;
