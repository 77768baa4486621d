import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { parseClock, parseDate } from "@adbudget/time";
import type { BrandSpec, DaypartSpec } from "./shared.js";

export interface ActivityDeps {
  brands: Client<typeof BrandService>;
  campaigns: Client<typeof CampaignService>;
  clock: Client<typeof CampaignClockService>;
}

const notFound = (err: unknown) => ConnectError.from(err).code === Code.NotFound;

/**
 * The activities of the clocks: typed Connect clients to the services, nothing else. Each is
 * idempotent (the services make SetDaypartState and OpenBudgetPeriod so), so Temporal's retries
 * with backoff are safe; errors other than "not found" are thrown and retried.
 */
export function createActivities(deps: ActivityDeps) {
  return {
    /** The campaign's schedule and the zone it is in; `exists: false` once deleted. */
    async loadDaypart(campaignId: string): Promise<DaypartSpec> {
      let campaign;
      try {
        ({ campaign } = await deps.campaigns.getCampaign({ id: campaignId }));
      } catch (err) {
        if (notFound(err)) return { exists: false, brandId: "", zone: "UTC", windows: [] };
        throw err;
      }
      const c = campaign!;
      let zone = c.schedule?.timeZone ?? "";
      if (zone === "") zone = (await deps.brands.getBrand({ id: c.brandId })).brand!.timeZone;
      return {
        exists: true,
        brandId: c.brandId,
        zone,
        windows: (c.schedule?.windows ?? []).map((w) => ({
          days: [...w.daysOfWeek],
          start: parseClock(w.start, false)!,
          end: parseClock(w.end, true)!,
        })),
      };
    },

    async setDaypartState(input: { campaignId: string; inWindow: boolean; asOfMs: number; sourceId: string }): Promise<boolean> {
      try {
        const res = await deps.clock.setDaypartState({
          campaignId: input.campaignId,
          inWindow: input.inWindow,
          asOfTime: timestampFromMs(input.asOfMs),
          sourceId: input.sourceId,
        });
        return !res.unchanged;
      } catch (err) {
        if (notFound(err)) return false; // deleted meanwhile: the workflow ends on its next load
        throw err;
      }
    },

    async loadBrand(brandId: string): Promise<BrandSpec> {
      try {
        const { brand } = await deps.brands.getBrand({ id: brandId });
        return { exists: true, archived: brand!.archived, timeZone: brand!.timeZone };
      } catch (err) {
        if (notFound(err)) return { exists: false, archived: true, timeZone: "UTC" };
        throw err;
      }
    },

    /** Opens a day ("YYYY-MM-DD") or month period; returns how many campaigns changed. */
    async openBudgetPeriod(input: { brandId: string; kind: "day" | "month"; start: string; sourceId: string }): Promise<number> {
      const res = await deps.clock.openBudgetPeriod({
        brandId: input.brandId,
        period: { kind: input.kind === "day" ? PeriodKind.DAY : PeriodKind.MONTH, start: parseDate(input.start) },
        sourceId: input.sourceId,
      });
      return res.campaignsChanged;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
