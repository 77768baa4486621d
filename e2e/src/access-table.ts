/**
 * Who may call what, written from docs/design.md (Access) for the access tests to hold the
 * running services against. Deliberately not derived from the production rules (the
 * `(adbudget.auth.v1.rule)` option of each RPC in proto/): a wrong rule there must make the tests
 * fail, not move their expectations.
 *
 * - `admin`: everything of the product API (not the internal RPCs below: they are steps of the
 *   services' own machinery, and calling them by hand would break a domain rule).
 * - `brand-manager` (its brands): its budgets, its campaigns, pause/resume, and reads.
 * - `ad-server` (its brands): RecordSpend, RecordSpendBatch, reads, WatchCampaigns.
 * - `viewer` (some brands, or all): reads. Streams that only show state (WatchCampaigns,
 *   WatchBudgetAlerts) are reads: they change nothing.
 * - one identity per internal caller, allowed exactly what that caller calls: the brand service
 *   asks whether a brand has spend (ListSpendEvents) before a zone change; the budget service
 *   reads brands and campaigns and locks a brand's zone at its first spend (LockBrandTimeZone: an
 *   admin locking it would end the brand's right to change zone before any spend); the campaign
 *   service reads brands; the clocks worker reads brands and campaigns and alone calls the clock
 *   services (CampaignClockService, BudgetClockService).
 * - reflection: any valid credential (grpcurl and buf curl need it to describe the API).
 * - default deny: an RPC not named here is refused to everyone.
 */

// The roles a token may carry are production's vocabulary (the topology's ROLES); ROLE_SCOPE is
// keyed by it, so a role added there without its column here does not compile.
import { ROLES, type Role } from "@adbudget/topology";

/**
 * How each role meets brands: `brands` roles must name theirs in the token; a `brands-or-all`
 * role names some or none (then all); `all` roles act on every brand.
 */
export const ROLE_SCOPE: Readonly<Record<Role, "brands" | "brands-or-all" | "all">> = {
  admin: "all",
  "brand-manager": "brands",
  "ad-server": "brands",
  viewer: "brands-or-all",
  "brand-service": "all",
  "budget-service": "all",
  "campaign-service": "all",
  clocks: "all",
};

/**
 * How an RPC meets the caller's brands: `brand`: it is about one brand (named, or the brand of
 * the named campaign), and a caller outside that brand is refused; `list`: it names no brand and
 * shows only the caller's; `none`: no brand is involved.
 */
export type BrandScope = "brand" | "list" | "none";

export interface Rule {
  roles: readonly Role[];
  scope: BrandScope;
}

const READERS: readonly Role[] = ["admin", "brand-manager", "ad-server", "viewer"];
const MANAGERS: readonly Role[] = ["admin", "brand-manager"];
const SPENDERS: readonly Role[] = ["admin", "ad-server"];
const read = (...internal: Role[]): Rule => ({ roles: [...READERS, ...internal], scope: "brand" });
const manage: Rule = { roles: MANAGERS, scope: "brand" };

/** Every RPC of every service the three servers answer (grpc.health.v1 aside: no credential). */
export const ACCESS_TABLE: Readonly<Record<string, Rule>> = {
  "adbudget.brand.v1.BrandService/CreateBrand": { roles: ["admin"], scope: "none" },
  "adbudget.brand.v1.BrandService/GetBrand": read("budget-service", "campaign-service", "clocks"),
  "adbudget.brand.v1.BrandService/ListBrands": { roles: [...READERS, "clocks"], scope: "list" },
  "adbudget.brand.v1.BrandService/UpdateBrand": { roles: ["admin"], scope: "brand" },
  "adbudget.brand.v1.BrandService/ArchiveBrand": { roles: ["admin"], scope: "brand" },
  "adbudget.brand.v1.BrandService/LockBrandTimeZone": { roles: ["budget-service"], scope: "brand" },
  "adbudget.brand.v1.BrandService/ListBrandChanges": read(),

  "adbudget.budget.v1.BudgetService/SetBudget": manage,
  "adbudget.budget.v1.BudgetService/GetBudget": read(),
  "adbudget.budget.v1.BudgetService/GetBudgetStatus": read(),
  "adbudget.budget.v1.BudgetService/GetCampaignSpend": read(),
  "adbudget.budget.v1.BudgetService/RecordSpend": { roles: SPENDERS, scope: "brand" },
  "adbudget.budget.v1.BudgetService/RecordSpendBatch": { roles: SPENDERS, scope: "brand" },
  "adbudget.budget.v1.BudgetService/ListSpendEvents": read("brand-service"),
  "adbudget.budget.v1.BudgetService/ListBudgetPeriods": read(),
  "adbudget.budget.v1.BudgetService/ListBudgetChanges": read(),
  "adbudget.budget.v1.BudgetService/WatchBudgetAlerts": read(),
  "adbudget.budget.v1.BudgetClockService/OpenBudgetPeriod": { roles: ["clocks"], scope: "brand" },
  "adbudget.budget.v1.BudgetClockService/OpenCurrentPeriods": { roles: ["clocks"], scope: "brand" },

  "adbudget.campaign.v1.CampaignService/CreateCampaign": manage,
  "adbudget.campaign.v1.CampaignService/GetCampaign": read("budget-service", "clocks"),
  "adbudget.campaign.v1.CampaignService/ListCampaigns": read("clocks"),
  "adbudget.campaign.v1.CampaignService/UpdateCampaign": manage,
  "adbudget.campaign.v1.CampaignService/PauseCampaign": manage,
  "adbudget.campaign.v1.CampaignService/ResumeCampaign": manage,
  "adbudget.campaign.v1.CampaignService/DeleteCampaign": manage,
  "adbudget.campaign.v1.CampaignService/ListCampaignStateChanges": read(),
  "adbudget.campaign.v1.CampaignService/ListCampaignChanges": read(),
  "adbudget.campaign.v1.CampaignService/WatchCampaigns": read(),
  "adbudget.campaign.v1.CampaignClockService/SetDaypartState": { roles: ["clocks"], scope: "brand" },
  "adbudget.campaign.v1.CampaignClockService/OpenBudgetPeriod": { roles: ["clocks"], scope: "brand" },
  "adbudget.campaign.v1.CampaignClockService/OpenBudgetPeriods": { roles: ["clocks"], scope: "brand" },
  "adbudget.campaign.v1.CampaignClockService/ReconcileBrand": { roles: ["clocks"], scope: "brand" },

  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo": { roles: ROLES, scope: "none" },
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": { roles: ROLES, scope: "none" },
};

/** Services any caller may call without a credential (probes). */
export const OPEN_SERVICES: ReadonlySet<string> = new Set(["grpc.health.v1.Health"]);

/** A caller of the matrix: a role, and the brands its token names ("own": one brand; "all": none named). */
export interface MatrixPrincipal {
  role: Role;
  brands: "own" | "all";
}

/** Every role, with each brand scope it may have: a viewer both of one brand and of all. */
export const MATRIX_PRINCIPALS: readonly MatrixPrincipal[] = ROLES.flatMap((role): MatrixPrincipal[] => {
  const scope = ROLE_SCOPE[role];
  if (scope === "brands") return [{ role, brands: "own" }];
  if (scope === "brands-or-all")
    return [
      { role, brands: "own" },
      { role, brands: "all" },
    ];
  return [{ role, brands: "all" }];
});

/** Whether `p` may call `rpc` about a brand that is its own or another ("foreign"). */
export function expectedAllowed(rpc: string, p: MatrixPrincipal, which: "own" | "foreign"): boolean {
  const rule = ACCESS_TABLE[rpc];
  if (rule === undefined) return false; // default deny
  if (!rule.roles.includes(p.role)) return false;
  return rule.scope !== "brand" || p.brands === "all" || which === "own";
}
