import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { kPrincipal } from "./request-context.js";

/**
 * Who calls (docs/design.md, Access). Humans and ad servers have a role, scoped to brands where
 * the role is; each internal caller has an identity of its own. Which roles may call an RPC is
 * declared beside the RPC in its proto (method-rules.ts); brand scope is checked by the handlers
 * once the request is parsed (`assertBrand`, `brandScope`).
 */
export const ROLES = ["admin", "brand-manager", "ad-server", "viewer", "brand-service", "budget-service", "campaign-service", "clocks"] as const;
export type Role = (typeof ROLES)[number];

/** Roles whose tokens must name their brands (`brands` claim); the others may (viewer) or act on all. */
export const BRAND_SCOPED_ROLES: ReadonlySet<Role> = new Set(["brand-manager", "ad-server"]);
/** Roles that may name brands to narrow themselves (a viewer of some brands, or of all). */
export const MAY_NAME_BRANDS: ReadonlySet<Role> = new Set(["brand-manager", "ad-server", "viewer"]);

/** An authenticated caller: the token's subject, role and brands. */
export interface Principal {
  sub: string;
  role: Role;
  /** The brands it may act on, or "all". */
  brands: ReadonlySet<string> | "all";
}

/** The caller of a call (set by the auth gate); undefined only when authentication is disabled. */
export function principalOf(ctx: HandlerContext): Principal | undefined {
  return ctx.values.get(kPrincipal);
}

/** Whether `p` may act on `brandId` (no principal: authentication is off, everything goes). */
export function canSeeBrand(p: Principal | undefined, brandId: string): boolean {
  return p === undefined || p.brands === "all" || p.brands.has(brandId);
}

/**
 * Refuses a call about a brand outside the caller's brands, before anything about the brand is
 * looked up: the answer is the same whether the brand exists or not.
 */
export function assertBrand(ctx: HandlerContext, brandId: string): void {
  if (!canSeeBrand(principalOf(ctx), brandId)) throw outsideBrands();
}

/** The brands a list or watch may show: undefined = all, else only these. */
export function brandScope(ctx: HandlerContext): ReadonlySet<string> | undefined {
  const p = principalOf(ctx);
  return p === undefined || p.brands === "all" ? undefined : p.brands;
}

/** The error of a call outside the caller's brands. */
export function outsideBrands(): ConnectError {
  return new ConnectError("this credential does not give access to that brand", Code.PermissionDenied);
}
