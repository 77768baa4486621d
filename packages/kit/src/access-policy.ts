import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { kPrincipal } from "./request-context.js";

/**
 * Who may call what (docs/design.md, Access). Humans and ad servers have a role, scoped to
 * brands where the role is; each internal caller has an identity of its own. Default deny: an RPC
 * without a rule here is refused to everyone (a test walks every method of every service).
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

const READERS: Role[] = ["admin", "brand-manager", "ad-server", "viewer"];

/**
 * Every RPC and the roles allowed to call it, checked before the request is read (a caller
 * without the right role learns nothing about the request's shape). Brand scope is checked by
 * the handlers once the request is parsed (`assertBrand`, `brandScope`).
 */
export const ACCESS_RULES: Readonly<Record<string, readonly Role[]>> = {
  "adbudget.brand.v1.BrandService/CreateBrand": ["admin"],
  "adbudget.brand.v1.BrandService/GetBrand": [...READERS, "budget-service", "campaign-service", "clocks"],
  "adbudget.brand.v1.BrandService/ListBrands": [...READERS, "clocks"],
  "adbudget.brand.v1.BrandService/UpdateBrand": ["admin"],
  "adbudget.brand.v1.BrandService/ArchiveBrand": ["admin"],
  "adbudget.brand.v1.BrandService/LockBrandTimeZone": ["budget-service"],

  "adbudget.budget.v1.BudgetService/SetBudget": ["admin", "brand-manager"],
  "adbudget.budget.v1.BudgetService/GetBudget": READERS,
  "adbudget.budget.v1.BudgetService/GetBudgetStatus": READERS,
  "adbudget.budget.v1.BudgetService/GetCampaignSpend": READERS,
  "adbudget.budget.v1.BudgetService/RecordSpend": ["admin", "ad-server"],
  "adbudget.budget.v1.BudgetService/RecordSpendBatch": ["admin", "ad-server"],
  "adbudget.budget.v1.BudgetService/ListSpendEvents": [...READERS, "brand-service"],
  "adbudget.budget.v1.BudgetService/ListBudgetPeriods": READERS,
  "adbudget.budget.v1.BudgetService/ListBudgetChanges": READERS,
  "adbudget.budget.v1.BudgetService/WatchBudgetAlerts": READERS,
  "adbudget.budget.v1.BudgetClockService/OpenBudgetPeriod": ["clocks"],
  "adbudget.budget.v1.BudgetClockService/OpenCurrentPeriods": ["clocks"],

  "adbudget.campaign.v1.CampaignService/CreateCampaign": ["admin", "brand-manager"],
  "adbudget.campaign.v1.CampaignService/GetCampaign": [...READERS, "budget-service", "clocks"],
  "adbudget.campaign.v1.CampaignService/ListCampaigns": [...READERS, "clocks"],
  "adbudget.campaign.v1.CampaignService/UpdateCampaign": ["admin", "brand-manager"],
  "adbudget.campaign.v1.CampaignService/PauseCampaign": ["admin", "brand-manager"],
  "adbudget.campaign.v1.CampaignService/ResumeCampaign": ["admin", "brand-manager"],
  "adbudget.campaign.v1.CampaignService/DeleteCampaign": ["admin", "brand-manager"],
  "adbudget.campaign.v1.CampaignService/ListCampaignStateChanges": READERS,
  "adbudget.campaign.v1.CampaignService/WatchCampaigns": READERS,
  "adbudget.campaign.v1.CampaignClockService/SetDaypartState": ["clocks"],
  "adbudget.campaign.v1.CampaignClockService/OpenBudgetPeriod": ["clocks"],
  "adbudget.campaign.v1.CampaignClockService/OpenBudgetPeriods": ["clocks"],
  "adbudget.campaign.v1.CampaignClockService/ReconcileBrand": ["clocks"],

  // Reflection: any valid credential, so grpcurl and buf curl work with `-H authorization: ...`.
  "grpc.reflection.v1.ServerReflection/ServerReflectionInfo": ROLES,
  "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": ROLES,
};

/** Services callable without any credential (probes): grpc.health.v1 only. */
export const PUBLIC_SERVICES: ReadonlySet<string> = new Set(["grpc.health.v1.Health"]);

/** The roles allowed to call `rpc` ("package.Service/Method"); empty when it has no rule. */
export function allowedRoles(rpc: string): readonly Role[] {
  return ACCESS_RULES[rpc] ?? [];
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
