import type { EntityManager } from "@mikro-orm/core";
import { keysetPage, uuidv7, type Actor, type MikroORM } from "@adbudget/kit";
import { toJson } from "@bufbuild/protobuf";
import { BrandSchema, type Brand } from "@adbudget/proto/adbudget/brand/v1/brand_pb.js";
import { BrandChangeEntity, type BrandChangeRow } from "./entities.js";

/** What a call did to a brand, as its audit row names it. */
export type BrandAction = "create" | "update" | "archive" | "lock_time_zone";

/**
 * Records a change in `em`'s transaction (committed with the change, or not at all): the brand
 * before and after as its API shows it (proto JSON), so the log reads like the API and survives
 * changes of the table's columns.
 */
export function recordChange(
  em: EntityManager,
  change: { action: BrandAction; before: Brand | undefined; after: Brand; actor: Actor; now: Date },
): void {
  em.create(BrandChangeEntity, {
    id: uuidv7(change.now.getTime()),
    brandId: change.after.id,
    principal: change.actor.principal,
    requestId: change.actor.requestId,
    action: change.action,
    changedAt: change.now,
    before: change.before === undefined ? null : toJson(BrandSchema, change.before),
    after: toJson(BrandSchema, change.after),
  });
}

/** A brand's changes, newest first, keyset-paged by id (UUIDv7: time order). */
export async function listBrandChanges(
  orm: MikroORM,
  brandId: string,
  req: { pageSize: number; pageToken: string },
): Promise<{ rows: BrandChangeRow[]; nextPageToken: string }> {
  return keysetPage(
    req,
    { b: brandId },
    (before, limit) =>
      orm.em
        .fork()
        .find(
          BrandChangeEntity,
          { brandId, ...(before === undefined ? {} : { id: { $lt: before } }) },
          { orderBy: { id: "desc" }, limit },
        ),
    (c) => c.id,
  );
}
