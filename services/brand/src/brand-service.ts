import { create, fromJson } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  actorOf,
  FailedPreconditionError,
  InvalidArgumentError,
  keysetPage,
  requestLogger,
  type FieldViolation,
  type Logger,
  type Now,
} from "@adbudget/kit";
import { checkRegionZone } from "@adbudget/time";
import { assertBrand, brandScope } from "@adbudget/topology";
import {
  BrandChangeSchema,
  BrandSchema,
  type Brand,
  type BrandChange,
} from "@adbudget/proto/adbudget/brand/v1/brand_pb.js";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { BrandPatch, BrandStore } from "./brand-store.js";
import { toProto } from "./brand-proto.js";
import type { BrandChangeRow } from "./entities.js";
import { listBrandChanges } from "./brand-changes.js";
import { isCurrency } from "./locale.js";

export const DEFAULT_TIME_ZONE = "UTC";
export const DEFAULT_CURRENCY = "USD";
const UPDATABLE = ["name", "time_zone", "currency_code"] as const;

export interface BrandServiceDeps {
  store: BrandStore;
  logger: Logger;
  /**
   * Whether the brand has recorded spend (asked of BudgetService), for brands whose spend
   * predates zone locks (LockBrandTimeZone, checked atomically in the store): a zone may change
   * only until the first spend. Absent = not checked.
   */
  hasSpend?: (brandId: string) => Promise<boolean>;
  /** The clock; injected so tests can pin it. */
  /** "Now" for the records' times (the app's clock: CLOCK_OFFSET_MS, or a test's). */
  now: Now;
}

/**
 * adbudget.brand.v1.BrandService. Shape rules (lengths, patterns, page sizes) are enforced by
 * the protovalidate interceptor before these methods run; what needs tables (IANA zones, ISO
 * 4217) or stored state (unique names, etags) is checked here and in the store.
 */
export class BrandServiceImpl implements ServiceImpl<typeof BrandService> {
  private readonly now: () => Date;

  constructor(private readonly deps: BrandServiceDeps) {
    this.now = () => new Date(deps.now());
  }

  async createBrand(req: { name: string; timeZone: string; currencyCode: string }, ctx: HandlerContext) {
    const violations: FieldViolation[] = [];
    const timeZone = checkTimeZone(req.timeZone || DEFAULT_TIME_ZONE, "time_zone", violations);
    const currencyCode = checkCurrency(req.currencyCode || DEFAULT_CURRENCY, "currency_code", violations);
    if (violations.length > 0) throw new InvalidArgumentError(violations);
    const row = await this.deps.store.create({ name: req.name, timeZone, currencyCode }, this.now(), actorOf(ctx));
    requestLogger(ctx, this.deps.logger).info({ brandId: row.id, name: row.name }, "brand created");
    return { brand: toProto(row) };
  }

  async getBrand(req: { id: string }, ctx: HandlerContext) {
    assertBrand(ctx, req.id);
    return { brand: toProto(await this.deps.store.get(req.id)) };
  }

  async listBrands(
    req: { pageSize: number; pageToken: string; showArchived: boolean; namePrefix: string },
    ctx: HandlerContext,
  ) {
    // A caller scoped to brands lists only those.
    const only = brandScope(ctx);
    const { showArchived, namePrefix } = req;
    // The token is bound to the whole filter: a next page asked with another prefix is refused,
    // not answered from a position the other filter chose. No prefix hashes as before the
    // prefix existed, so tokens issued by the previous version stay valid across a deploy.
    const { rows, nextPageToken } = await keysetPage(
      req,
      { showArchived, only: only && [...only].sort(), ...(namePrefix === "" ? {} : { namePrefix }) },
      (after, limit) => this.deps.store.list({ after, limit, showArchived, only, namePrefix }),
      (b) => b.id,
    );
    return { brands: rows.map(toProto), nextPageToken };
  }

  async updateBrand(req: { brand?: Brand; updateMask?: { paths: string[] } }, ctx: HandlerContext) {
    // `brand` and `update_mask` are required by the proto rules; this guards direct calls.
    const brand = req.brand ?? create(BrandSchema);
    const paths = req.updateMask?.paths ?? [];
    const violations: FieldViolation[] = [];
    if (!/^[0-9a-f-]{36}$/i.test(brand.id)) violations.push({ field: "brand.id", description: "must be a brand id" });
    if (paths.length === 0) violations.push({ field: "update_mask", description: "must name at least one field" });
    const patch: BrandPatch = {};
    /** A refused zone, unless it is the brand's own stored one sent back unchanged. */
    let refusedZone: { zone: string; reason: string } | undefined;
    for (const path of new Set(paths)) {
      switch (path) {
        case "name":
          checkName(brand.name, "brand.name", violations);
          patch.name = brand.name;
          break;
        case "time_zone": {
          const zone = brand.timeZone || DEFAULT_TIME_ZONE;
          const check = checkRegionZone(zone);
          if (check.zone !== undefined) patch.timeZone = check.zone;
          else refusedZone = { zone, reason: check.refused };
          break;
        }
        case "currency_code":
          patch.currencyCode = checkCurrency(brand.currencyCode || DEFAULT_CURRENCY, "brand.currency_code", violations);
          break;
        default:
          violations.push({
            field: "update_mask",
            description: `${JSON.stringify(path)} cannot be updated; updatable: ${UPDATABLE.join(", ")}`,
          });
      }
    }
    if (refusedZone !== undefined) {
      // A brand stored with a zone from before region zones were required keeps it, and a
      // client that sends the brand back as it read it (time_zone in the mask, unchanged) is
      // not refused for it: only setting such a zone anew is.
      const current = /^[0-9a-f-]{36}$/i.test(brand.id)
        ? await this.deps.store.get(brand.id).catch(() => undefined)
        : undefined;
      if (current?.timeZone === refusedZone.zone) patch.timeZone = refusedZone.zone;
      else violations.push({ field: "brand.time_zone", description: refusedZone.reason });
    }
    if (violations.length > 0) throw new InvalidArgumentError(violations);
    if (patch.timeZone !== undefined && this.deps.hasSpend !== undefined) {
      const current = await this.deps.store.get(brand.id);
      if (current.timeZone !== patch.timeZone && !current.timeZoneLocked && (await this.deps.hasSpend(brand.id))) {
        throw new FailedPreconditionError(
          `brand ${JSON.stringify(brand.id)} has recorded spend: its time zone can no longer change (accounted periods must not shift)`,
        );
      }
    }
    const row = await this.deps.store.update(brand.id, brand.etag, patch, this.now(), actorOf(ctx));
    requestLogger(ctx, this.deps.logger).info({ brandId: row.id, paths }, "brand updated");
    return { brand: toProto(row) };
  }

  async lockBrandTimeZone(req: { id: string }, ctx: HandlerContext) {
    const row = await this.deps.store.lockTimeZone(req.id, this.now(), actorOf(ctx));
    requestLogger(ctx, this.deps.logger).debug({ brandId: row.id, timeZone: row.timeZone }, "brand time zone locked");
    return { brand: toProto(row) };
  }

  async archiveBrand(req: { id: string }, ctx: HandlerContext) {
    const row = await this.deps.store.archive(req.id, this.now(), actorOf(ctx));
    requestLogger(ctx, this.deps.logger).info({ brandId: row.id }, "brand archived");
    return { brand: toProto(row) };
  }

  /** The brand's audit log (brand-changes.ts), newest first. */
  async listBrandChanges(req: { brandId: string; pageSize: number; pageToken: string }, ctx: HandlerContext) {
    assertBrand(ctx, req.brandId);
    await this.deps.store.get(req.brandId);
    const { rows, nextPageToken } = await listBrandChanges(this.deps.store.orm, req.brandId, req);
    return { changes: rows.map(changeProto), nextPageToken };
  }
}

function changeProto(c: BrandChangeRow): BrandChange {
  return create(BrandChangeSchema, {
    id: c.id,
    brandId: c.brandId,
    principal: c.principal,
    requestId: c.requestId,
    changeTime: timestampFromDate(c.changedAt),
    action: c.action,
    // A field the API has since dropped is passed over: the log stays readable.
    before:
      c.before === null || c.before === undefined
        ? undefined
        : fromJson(BrandSchema, c.before, { ignoreUnknownFields: true }),
    after: fromJson(BrandSchema, c.after, { ignoreUnknownFields: true }),
  });
}

/** Same rule as CreateBrandRequest.name: 1-200 characters, no surrounding white space. */
function checkName(name: string, field: string, violations: FieldViolation[]): void {
  if (name.length < 1 || name.length > 200) {
    violations.push({ field, description: "must be 1 to 200 characters" });
  } else if (name.trim() !== name) {
    violations.push({ field, description: "must not start or end with white space" });
  }
}

/** A zone to set: an IANA region zone or UTC (@adbudget/time checkRegionZone), in its stored spelling. */
function checkTimeZone(zone: string, field: string, violations: FieldViolation[]): string {
  const check = checkRegionZone(zone);
  if (check.zone !== undefined) return check.zone;
  violations.push({ field, description: check.refused });
  return zone;
}

function checkCurrency(code: string, field: string, violations: FieldViolation[]): string {
  if (!/^[A-Z]{3}$/.test(code) || !isCurrency(code)) {
    violations.push({
      field,
      description: `${JSON.stringify(code)} is not an ISO 4217 currency code (for example "EUR")`,
    });
  }
  return code;
}
