import { createHash } from "node:crypto";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { PageTokenPayloadSchema } from "@adbudget/proto/adbudget/common/v1/paging_pb.js";
import { InvalidArgumentError } from "./errors.js";

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;

/** 0 means the default; the proto rules already cap it at 1000. */
export function pageSize(requested: number): number {
  if (requested <= 0) return DEFAULT_PAGE_SIZE;
  return Math.min(requested, MAX_PAGE_SIZE);
}

/** A stable fingerprint of a list filter, so a token cannot be replayed with another filter. */
export function filterHash(filter: unknown): string {
  return createHash("sha256").update(JSON.stringify(filter)).digest("base64url").slice(0, 16);
}

/**
 * Opaque keyset page tokens: base64url of a PageTokenPayload with the sort key of the last
 * item. Keyset (not offset) paging keeps pages stable while rows are inserted, and costs the
 * same on page 1 and page 1000.
 */
export function encodePageToken(after: string, filter: unknown): string {
  return Buffer.from(
    toBinary(PageTokenPayloadSchema, create(PageTokenPayloadSchema, { after, filterHash: filterHash(filter) })),
  ).toString("base64url");
}

/** The sort key of most lists: a row id (a UUID). */
export const ID_KEY = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Decodes a token; "" is the first page. Anything else malformed is INVALID_ARGUMENT, including
 * a key not of `keyShape`: tokens are not signed (anyone can compute the filter's hash), so a
 * forged key must be refused here, not fail its query as a type error (INTERNAL).
 */
export function decodePageToken(token: string, filter: unknown, keyShape: RegExp = ID_KEY): string | undefined {
  if (token === "") return undefined;
  const bad = (why: string) => new InvalidArgumentError([{ field: "page_token", description: why }]);
  let payload;
  try {
    if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error("not base64url");
    payload = fromBinary(PageTokenPayloadSchema, Buffer.from(token, "base64url"));
  } catch {
    throw bad("not a page token issued by this service");
  }
  if (payload.after === "") throw bad("not a page token issued by this service");
  if (payload.filterHash !== filterHash(filter)) throw bad("the page token was issued for another filter");
  if (!keyShape.test(payload.after)) throw bad("not a page token issued by this service");
  return payload.after;
}

/**
 * One keyset page: decodes the token (bound to `filter`), fetches one row more than the page
 * size to learn whether another page exists (no count query), and encodes the next token from
 * the last row's key.
 */
export async function keysetPage<T>(
  req: { pageSize: number; pageToken: string },
  filter: unknown,
  fetch: (after: string | undefined, limit: number) => Promise<T[]>,
  keyOf: (row: T) => string,
): Promise<{ rows: T[]; nextPageToken: string }> {
  const after = decodePageToken(req.pageToken, filter);
  const limit = pageSize(req.pageSize);
  const rows = await fetch(after, limit + 1);
  const page = rows.slice(0, limit);
  const last = page.at(-1);
  return {
    rows: page,
    nextPageToken: rows.length > limit && last !== undefined ? encodePageToken(keyOf(last), filter) : "",
  };
}
