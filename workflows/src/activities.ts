import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { isInside, monthStart, parseClock, parseDate, periodsOf } from "@adbudget/time";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import type { Clocks } from "./client.js";
import type { BrandSpec, DaypartSpec } from "./shared.js";

export interface ActivityDeps {
  brands: Client<typeof BrandService>;
  campaigns: Client<typeof CampaignService>;
  clock: Client<typeof CampaignClockService>;
  /** The workflows themselves, for reconciliation. */
  clocks?: Clocks;
}

/** What one reconciliation pass found and repaired. */
export interface ReconcileCounts {
  campaignsChecked: number;
  brandsChecked: number;
  daypartClocksStarted: number;
  daypartStatesRepaired: number;
  resetClocksStarted: number;
  campaignsReset: number;
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

    /**
     * One pass of reconciliation, comparing what the services hold with what the clocks do, and
     * repairing drift: every scheduled campaign has a running daypart clock and the daypart state
     * of now; every active brand has a running reset clock and its current day and month open.
     * Idempotent; returns what it repaired.
     */
    async reconcile(input: { nowMs: number; sourceId: string }): Promise<ReconcileCounts> {
      const counts: ReconcileCounts = {
        campaignsChecked: 0, brandsChecked: 0, daypartClocksStarted: 0, daypartStatesRepaired: 0, resetClocksStarted: 0, campaignsReset: 0,
      };
      const zones = new Map<string, string>();
      let pageToken = "";
      do {
        const page = await deps.brands.listBrands({ pageSize: 1000, pageToken });
        for (const b of page.brands) {
          counts.brandsChecked++;
          zones.set(b.id, b.timeZone);
          if (deps.clocks && (await deps.clocks.ensureRunning("reset", b.id, b.name))) counts.resetClocksStarted++;
          const p = periodsOf(input.nowMs, b.timeZone);
          for (const [kind, start] of [["day", p.day], ["month", monthStart(p.day)]] as const) {
            counts.campaignsReset += (await deps.clock.openBudgetPeriod({
              brandId: b.id,
              period: { kind: kind === "day" ? PeriodKind.DAY : PeriodKind.MONTH, start },
              sourceId: input.sourceId,
            })).campaignsChanged;
          }
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      pageToken = "";
      do {
        const page = await deps.campaigns.listCampaigns({ pageSize: 1000, pageToken });
        for (const c of page.campaigns) {
          counts.campaignsChecked++;
          if (c.schedule === undefined || c.schedule.windows.length === 0) continue;
          if (deps.clocks && (await deps.clocks.ensureRunning("daypart", c.id, c.name, c.brandId))) counts.daypartClocksStarted++;
          const zone = c.schedule.timeZone || zones.get(c.brandId);
          if (zone === undefined) continue; // archived brand: it does not serve anyway
          const windows = c.schedule.windows.map((w) => ({ days: [...w.daysOfWeek], start: parseClock(w.start, false)!, end: parseClock(w.end, true)! }));
          const inside = isInside(input.nowMs, windows, zone);
          if (inside === c.pauseReasons.includes(PauseReason.OUTSIDE_DAYPART)) {
            const res = await deps.clock.setDaypartState({ campaignId: c.id, inWindow: inside, asOfTime: timestampFromMs(input.nowMs), sourceId: input.sourceId });
            if (!res.unchanged) counts.daypartStatesRepaired++;
          }
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      return counts;
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
