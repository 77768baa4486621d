import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { kPrincipal } from "./request-context.js";
import type { QuotaModel } from "./quotas.js";

/**
 * Who calls, as the kit sees it: a token's subject, its role, and its scope (the ids of the
 * records it may act on, or "all"). Which roles exist and which must name their scope is the
 * system's own declaration (an AccessModel), handed to the token verifier; which roles may call
 * an RPC is the option beside the RPC in its proto (method-rules.ts). Scope is checked by the
 * handlers once the request is parsed (`assertInScope`, `callerScope`).
 */

/** How a role's tokens name their scope: they must, they may (to narrow themselves), or never (all). */
export type RoleScope = "must-name" | "may-name" | "all";

/** The system's roles and the claim a scoped token names its ids in. */
export interface AccessModel {
  /** Every role a token may carry, with how it names its scope; any other role is refused. */
  readonly roles: Readonly<Record<string, RoleScope>>;
  /** The token claim listing a scoped token's ids (a non-empty array of UUIDs). */
  readonly scopeClaim: string;
  /**
   * The roles that are a workload's own identity, each with the name (subject CN) of the client
   * certificate its calls must arrive with when the server asks for client certificates (mutual
   * TLS): a stolen workload token is then useless without that workload's certificate too.
   */
  readonly workloadCertificates?: Readonly<Record<string, string>>;
  /** Rate limits per caller and per scope id (quotas.ts); none: no limits. */
  readonly quotas?: QuotaModel;
}

/** An authenticated caller. */
export interface Principal {
  sub: string;
  /** One of the AccessModel's roles. */
  role: string;
  /** The ids it may act on, or "all". */
  scope: ReadonlySet<string> | "all";
  /** When its token expires (ms since the epoch): a stream it opened ends then (stream-expiry.ts). */
  expiresAt: number;
}

/** The caller of a call (set by the auth gate); undefined only when authentication is disabled. */
export function principalOf(ctx: HandlerContext): Principal | undefined {
  return ctx.values.get(kPrincipal);
}

/**
 * Whether `p` may act on `id` (no principal: authentication is off, everything goes). Ids are
 * UUIDs, which the API takes in either case; a token's are kept lower case, so is this one.
 */
export function inScope(p: Principal | undefined, id: string): boolean {
  return p === undefined || p.scope === "all" || p.scope.has(id.toLowerCase());
}

/** The ids a list or watch may show: undefined = all, else only these. */
export function callerScope(ctx: HandlerContext): ReadonlySet<string> | undefined {
  const p = principalOf(ctx);
  return p === undefined || p.scope === "all" ? undefined : p.scope;
}

/**
 * The error of a call about a record outside the caller's scope, named by what it is ("order", say).
 * The same whether the record exists or not, so a caller learns nothing of others' records.
 */
export function outOfScope(what: string): ConnectError {
  return new ConnectError(`this credential does not give access to that ${what}`, Code.PermissionDenied);
}

/** Refuses a call about `id` outside the caller's scope, before anything about it is looked up. */
export function assertInScope(ctx: HandlerContext, id: string, what: string): void {
  if (!inScope(principalOf(ctx), id)) throw outOfScope(what);
}
