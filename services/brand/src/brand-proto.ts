import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { BrandSchema, type Brand } from "@adbudget/proto/adbudget/brand/v1/brand_pb.js";
import type { BrandRow } from "./entities.js";

/** The opaque etag of a brand version. */
export function etagOf(row: Pick<BrandRow, "version">): string {
  return `v${row.version}`;
}

/** A brand as the API shows it: answers, events and the audit log alike. */
export function toProto(row: BrandRow): Brand {
  return create(BrandSchema, {
    id: row.id,
    name: row.name,
    timeZone: row.timeZone,
    currencyCode: row.currencyCode,
    archived: row.archived,
    timeZoneLocked: row.timeZoneLocked,
    createTime: timestampFromDate(row.createdAt),
    updateTime: timestampFromDate(row.updatedAt),
    archiveTime: row.archivedAt ? timestampFromDate(row.archivedAt) : undefined,
    etag: etagOf(row),
  });
}
