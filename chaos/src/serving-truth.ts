import { Code, ConnectError, type Client } from "@connectrpc/connect";
import {
  expectedServing,
  type ModelBrand,
  type ModelCampaign,
  type ModelReason,
  type ModelSpend,
  pgClient,
} from "@adbudget/testing";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import type { Date as GDate } from "@adbudget/proto/google/type/date_pb.js";
import type { CampaignTruth } from "./invariants.ts";

/** The model's reasons as the API's enum. */
const REASONS: Record<ModelReason, PauseReason> = {
  PAUSED_BY_USER: PauseReason.PAUSED_BY_USER,
  OUTSIDE_DAYPART: PauseReason.OUTSIDE_DAYPART,
  DAILY_BUDGET_EXHAUSTED: PauseReason.DAILY_BUDGET_EXHAUSTED,
  MONTHLY_BUDGET_EXHAUSTED: PauseReason.MONTHLY_BUDGET_EXHAUSTED,
  BRAND_ARCHIVED: PauseReason.BRAND_ARCHIVED,
  NOT_STARTED: PauseReason.NOT_STARTED,
  ENDED: PauseReason.ENDED,
  CAMPAIGN_BUDGET_EXHAUSTED: PauseReason.CAMPAIGN_BUDGET_EXHAUSTED,
  LIFETIME_BUDGET_EXHAUSTED: PauseReason.LIFETIME_BUDGET_EXHAUSTED,
};

/** A google.type.Date as "YYYY-MM-DD" (undefined stays undefined). */
export const isoDate = (d: GDate | undefined) =>
  d === undefined
    ? undefined
    : `${String(d.year).padStart(4, "0")}-${String(d.month).padStart(2, "0")}-${String(d.day).padStart(2, "0")}`;

export interface TruthSources {
  brands: Client<typeof BrandService>;
  budget: Client<typeof BudgetService>;
  campaigns: Client<typeof CampaignService>;
  budgetDbUrl: string;
  /** The services' clock. */
  now: () => number;
}

/**
 * What each campaign should be now, from the independent reference model (`expectedServing` of
 * @adbudget/testing, not the production `servingState`, `isInside` or any stored flag) fed with
 * the inputs as the services hold them: the brand's zone and archive from BrandService, its
 * limits from GetBudget, the campaign's intent, schedule, flight and cap from GetCampaign, and
 * every spend event of the brand from the ledger. The day, month, cap and window judgements are
 * the model's own, so a service that stored a wrong flag cannot agree with itself here.
 */
export async function servingTruth(src: TruthSources, campaignIds: string[]): Promise<CampaignTruth[]> {
  const campaigns = [];
  for (const id of campaignIds) {
    const { campaign } = await src.campaigns.getCampaign({ id });
    if (campaign === undefined) throw new Error(`GetCampaign ${id} answered no campaign`);
    campaigns.push(campaign);
  }
  const brandIds = [...new Set(campaigns.map((c) => c.brandId))];
  const brands = await readBrands(src, brandIds);
  const spend = await ledgerSpend(src.budgetDbUrl, brandIds);
  const now = src.now();
  return campaigns.map((c) => {
    const brand = brands.get(c.brandId);
    if (brand === undefined) throw new Error(`no brand ${c.brandId} read`);
    const model: ModelCampaign = {
      enabled: c.enabled,
      windows: (c.schedule?.windows ?? []).map((w) => ({ days: w.daysOfWeek.map(Number), start: w.start, end: w.end })),
      windowsZone: c.schedule?.timeZone,
      startDate: isoDate(c.startDate),
      endDate: isoDate(c.endDate),
      dailyCap: c.dailyLimitMicros ?? null,
    };
    const s = expectedServing(now, brand, model, c.id, spend.get(c.brandId) ?? []);
    return { id: c.id, serving: s.serving, reasons: s.reasons.map((r) => REASONS[r]) };
  });
}

/** Each brand's zone and archive (BrandService) and its budget's limits (GetBudget; none = unlimited). */
export async function readBrands(
  src: Pick<TruthSources, "brands" | "budget">,
  brandIds: string[],
): Promise<Map<string, ModelBrand>> {
  const brands = new Map<string, ModelBrand>();
  for (const brandId of brandIds) {
    const { brand } = await src.brands.getBrand({ id: brandId });
    if (brand === undefined) throw new Error(`GetBrand ${brandId} answered no brand`);
    const budget = await src.budget.getBudget({ brandId }).then(
      (r) => r.budget,
      (err) => {
        if (ConnectError.from(err).code === Code.NotFound) return undefined;
        throw err;
      },
    );
    brands.set(brandId, {
      zone: brand.timeZone,
      archived: brand.archived,
      dailyLimit: budget?.dailyLimitMicros ?? null,
      monthlyLimit: budget?.monthlyLimitMicros ?? null,
    });
  }
  return brands;
}

/** Every spend event of the brands, from the ledger table. */
async function ledgerSpend(url: string, brandIds: string[]): Promise<Map<string, ModelSpend[]>> {
  const c = pgClient(url);
  await c.connect();
  try {
    const { rows } = await c.query<{ brand_id: string; campaign_id: string; amount: string; at: Date }>(
      "select brand_id::text, campaign_id::text, amount_micros::text as amount, occurred_at as at from spend_events where brand_id = any($1::uuid[])",
      [brandIds],
    );
    const out = new Map<string, ModelSpend[]>();
    for (const r of rows) {
      const list = out.get(r.brand_id) ?? [];
      if (list.length === 0) out.set(r.brand_id, list);
      list.push({ campaignId: r.campaign_id, amount: BigInt(r.amount), occurredAtMs: r.at.getTime() });
    }
    return out;
  } finally {
    await c.end();
  }
}
