import type { HandlerContext } from "@connectrpc/connect";
import {
  assertInScope,
  callerScope,
  inScope,
  outOfScope,
  type AccessModel,
  type Principal,
  type RoleScope,
} from "@adbudget/kit";
import { SERVICE_NAMES, SERVICES, WORKER } from "./declaration.js";

/**
 * Who calls (docs/design.md, Access): humans and ad servers have a role, scoped to brands where
 * the role is (a token's `brands` claim); each internal caller has an identity of its own (the
 * `role` of SERVICES and WORKER). Which roles may call an RPC is the `(adbudget.auth.v1.rule)`
 * option beside it in its proto; this declares the roles themselves and their brand scope, for
 * the kit's token verifier (ACCESS), `npm run token`, and the handlers' brand checks.
 */
export const ROLE_SCOPES = {
  admin: "all",
  "brand-manager": "must-name",
  "ad-server": "must-name",
  viewer: "may-name",
  "brand-service": "all",
  "budget-service": "all",
  "campaign-service": "all",
  clocks: "all",
} as const satisfies Record<string, RoleScope>;

export type Role = keyof typeof ROLE_SCOPES;
export const ROLES: readonly Role[] = [
  "admin",
  "brand-manager",
  "ad-server",
  "viewer",
  "brand-service",
  "budget-service",
  "campaign-service",
  "clocks",
];

/**
 * Each workload's role, with the name of its client certificate (`scripts/dev-certs.sh`: CN=<the
 * workload's name>): under mutual TLS a workload's token counts only with that certificate.
 */
const WORKLOAD_CERTIFICATES: Readonly<Record<string, string>> = Object.fromEntries([
  ...SERVICE_NAMES.map((name) => [SERVICES[name].role, name] as const),
  [WORKER.role, WORKER.name] as const,
]);

/**
 * The access model every workload verifies tokens with: these roles, scoped by `brands`, the
 * workloads' own bound to their certificates.
 */
export const ACCESS: AccessModel = {
  roles: ROLE_SCOPES,
  scopeClaim: "brands",
  workloadCertificates: WORKLOAD_CERTIFICATES,
  quotas: {
    roles: {
      // An ad server reports spend: 5,000 events a second, two seconds of it at once (the
      // RecordSpendBatch maximum is 1,000 a call). The whole system measured ~2,000 RecordSpend
      // calls/s on 2 cores (bench:spend): one ad server cannot take it all from the others.
      "ad-server": { perSecond: 5000, burst: 10_000 },
      // People change budgets and campaigns by hand or by script: 20 writes a second, 40 at once.
      "brand-manager": { perSecond: 20, burst: 40 },
      admin: { perSecond: 20, burst: 40 },
      viewer: { perSecond: 20, burst: 40 },
      // The workloads' own identities are not limited: they act on what callers already paid for.
    },
    // A brand's callers together (all its ad servers and managers, tokens naming that brand):
    // twice one ad server's.
    perScope: { perSecond: 10_000, burst: 20_000 },
  },
};

/** Roles whose tokens must name their brands (`brands` claim). */
export const BRAND_SCOPED_ROLES: ReadonlySet<Role> = new Set(ROLES.filter((r) => ROLE_SCOPES[r] === "must-name"));
/** Roles that may name brands to narrow themselves (a viewer of some brands, or of all). */
export const MAY_NAME_BRANDS: ReadonlySet<Role> = new Set(ROLES.filter((r) => ROLE_SCOPES[r] !== "all"));

/** Whether `p` may act on `brandId` (no principal: authentication is off, everything goes). */
export function canSeeBrand(p: Principal | undefined, brandId: string): boolean {
  return inScope(p, brandId);
}

/**
 * Refuses a call about a brand outside the caller's brands, before anything about the brand is
 * looked up: the answer is the same whether the brand exists or not.
 */
export function assertBrand(ctx: HandlerContext, brandId: string): void {
  assertInScope(ctx, brandId, "brand");
}

/** The brands a list or watch may show: undefined = all, else only these. */
export function brandScope(ctx: HandlerContext): ReadonlySet<string> | undefined {
  return callerScope(ctx);
}

/** The error of a call outside the caller's brands. */
export function outsideBrands() {
  return outOfScope("brand");
}
