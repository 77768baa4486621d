import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Context } from "@temporalio/activity";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import type { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import {
  flightOfDates,
  flightPhase,
  FlightPhase,
  formatDate,
  isInside,
  monthStart,
  nextFlightChange,
  parseClock,
  parseDate,
  startOfDay,
  type Flight,
} from "@adbudget/time";
import { PauseReason, type Campaign } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import type { ClockWorkflows } from "./client.js";
import { addCounts, NO_REPAIRS, type BrandSpec, type DaypartSpec, type ReconcileCounts } from "./shared.js";

export interface ActivityDeps {
  brands: Client<typeof BrandService>;
  campaigns: Client<typeof CampaignService>;
  campaignClock: Client<typeof CampaignClockService>;
  budgetClock: Client<typeof BudgetClockService>;
  /** The workflows themselves, for reconciliation. */
  clockWorkflows?: ClockWorkflows;
  /** Items per reconciliation page (default RECONCILE_PAGE_SIZE; tests use small pages). */
  reconcilePageSize?: number;
  /**
   * "Now" for reconciliation's daypart checks (the worker's clock, CLOCK_OFFSET_MS applied):
   * read for each campaign, since a pass takes seconds to minutes. Absent: the pass's `nowMs`.
   */
  now?: () => number;
}

/**
 * Items per reconciliation activity: each page is one activity of bounded time (a few hundred
 * service calls), heartbeating per item, so a pass over 100,000 campaigns is 200 short
 * activities a worker crash resumes from, not one ten-minute activity that starts over.
 */
export const RECONCILE_PAGE_SIZE = 500;

const notFound = (err: unknown) => ConnectError.from(err).code === Code.NotFound;

/** Tells Temporal the activity is alive (outside an activity, as in tests, a no-op). */
function heartbeat(details?: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    // Not running as an activity.
  }
}

/** A campaign's flight dates, or undefined without any. */
const flightOfCampaign = (c: Campaign): Flight | undefined =>
  c.startDate === undefined && c.endDate === undefined
    ? undefined
    : flightOfDates(c.startDate && formatDate(c.startDate), c.endDate && formatDate(c.endDate));

/** One page of a reconciliation pass. */
interface PageInput {
  nowMs: number;
  sourceId: string;
  pageToken: string;
}

/**
 * A stored schedule's windows. The campaign service stores them checked, so one that does not
 * parse is a defect to see (the activity fails, and says which), never a window quietly dropped.
 */
const windowsOf = (c: Campaign) =>
  (c.schedule?.windows ?? []).map((w) => {
    const start = parseClock(w.start, false);
    const end = parseClock(w.end, true);
    if (start === undefined || end === undefined)
      throw new Error(`campaign ${c.id}: stored window ${w.start}-${w.end} does not parse`);
    return { days: [...w.daysOfWeek], start, end };
  });

/**
 * The activities of the clocks: typed Connect clients to the services, nothing else. Each is
 * idempotent (the services make SetDaypartState and both OpenBudgetPeriods so), so Temporal's
 * retries with backoff are safe; errors other than "not found" are thrown and retried.
 */
export function createActivities(deps: ActivityDeps) {
  /**
   * Opens a period in the ledger, then in the campaigns with the state it opened with. A day
   * opens together with its month: the ledger opens both, and the campaigns take both in ONE
   * change, so on the 1st a campaign paused by the old day does not serve for an instant between
   * the new day's opening and a new month that opens exhausted (the month's own call that the
   * clock makes next then changes nothing).
   */
  async function openPeriod(
    brandId: string,
    kind: PeriodKind,
    start: ReturnType<typeof parseDate>,
    sourceId: string,
  ): Promise<number> {
    const kinds =
      kind === PeriodKind.DAY
        ? [
            { kind, start },
            { kind: PeriodKind.MONTH, start: monthStart(start) },
          ]
        : [{ kind, start }];
    const periods = [];
    for (const period of kinds) {
      let opened;
      try {
        opened = await deps.budgetClock.openBudgetPeriod({ brandId, period });
      } catch (err) {
        if (
          ConnectError.from(err).code === Code.FailedPrecondition &&
          (await notStartedInBrandZone(brandId, period.start))
        )
          return 0;
        throw err;
      }
      periods.push({ period, exhausted: opened.status?.exhausted ?? false, sequence: opened.sequence });
    }
    const res = await deps.campaignClock.openBudgetPeriods({ brandId, periods, sourceId });
    return res.campaignsChanged;
  }

  /**
   * Whether a period the ledger refused as not started has not started in the brand's zone by
   * this worker's clock either: the zone moved after the clock loaded the brand (allowed until
   * the first spend). Retrying such a period would hold the brand's reset clock for hours; the
   * zone change wakes it and its next turn opens the new zone's day. Otherwise (the budget
   * service's clock is behind this one) the refusal is thrown and the activity retried.
   */
  async function notStartedInBrandZone(brandId: string, start: ReturnType<typeof parseDate>): Promise<boolean> {
    const { brand } = await deps.brands.getBrand({ id: brandId });
    return brand !== undefined && startOfDay(start, brand.timeZone) > (deps.now?.() ?? Date.now());
  }

  const activities = {
    /** The campaign's schedule, the zone it is in and its version; `exists: false` once deleted. */
    async loadDaypart(campaignId: string): Promise<DaypartSpec> {
      let c: Campaign | undefined;
      try {
        ({ campaign: c } = await deps.campaigns.getCampaign({ id: campaignId }));
      } catch (err) {
        if (notFound(err)) return { exists: false, brandId: "", zone: "UTC", windows: [], scheduleVersion: 0 };
        throw err;
      }
      if (c === undefined) throw new Error(`GetCampaign answered no campaign for ${campaignId}`);
      const flight = c.startDate !== undefined || c.endDate !== undefined;
      let zone = c.schedule?.timeZone ?? "";
      let brandZone: string | undefined;
      if (zone === "" || flight) {
        const { brand } = await deps.brands.getBrand({ id: c.brandId });
        if (brand === undefined) throw new Error(`GetBrand answered no brand for ${c.brandId}`);
        brandZone = brand.timeZone;
        if (zone === "") zone = brandZone;
      }
      return {
        exists: true,
        brandId: c.brandId,
        zone,
        windows: windowsOf(c),
        scheduleVersion: Number(c.scheduleVersion),
        ...(c.startDate === undefined ? {} : { startDate: formatDate(c.startDate) }),
        ...(c.endDate === undefined ? {} : { endDate: formatDate(c.endDate) }),
        ...(brandZone === undefined ? {} : { brandZone }),
      };
    },

    async setDaypartState(input: {
      campaignId: string;
      inWindow: boolean;
      asOfMs: number;
      sourceId: string;
      scheduleVersion?: number;
    }): Promise<boolean> {
      try {
        const res = await deps.campaignClock.setDaypartState({
          campaignId: input.campaignId,
          inWindow: input.inWindow,
          asOfTime: timestampFromMs(input.asOfMs),
          sourceId: input.sourceId,
          scheduleVersion: BigInt(input.scheduleVersion ?? 0),
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
        if (brand === undefined) throw new Error(`GetBrand answered no brand for ${brandId}`);
        return { exists: true, archived: brand.archived, timeZone: brand.timeZone };
      } catch (err) {
        if (notFound(err)) return { exists: false, archived: true, timeZone: "UTC" };
        throw err;
      }
    },

    /**
     * Opens a day ("YYYY-MM-DD") or month period: first in the ledger (a period that opens at or
     * past its limit is exhausted from its first instant), then in the campaigns with that state.
     * Returns how many campaigns changed.
     */
    async openBudgetPeriod(input: {
      brandId: string;
      kind: "day" | "month";
      start: string;
      sourceId: string;
    }): Promise<number> {
      return openPeriod(
        input.brandId,
        input.kind === "day" ? PeriodKind.DAY : PeriodKind.MONTH,
        parseDate(input.start),
        input.sourceId,
      );
    },

    /**
     * One page of brands for reconciliation: each active brand has a running reset clock, its
     * current day and month are open in the ledger, and its campaigns are judged again from the
     * current truth (reconcileBrand), which repairs a lost event, a period that opened
     * exhausted, and any state that drifted.
     */
    async reconcileBrands(input: PageInput): Promise<{ counts: ReconcileCounts; nextPageToken: string }> {
      const counts = { ...NO_REPAIRS };
      const page = await deps.brands.listBrands({
        pageSize: deps.reconcilePageSize ?? RECONCILE_PAGE_SIZE,
        pageToken: input.pageToken,
      });
      for (const b of page.brands) {
        counts.brandsChecked++;
        if (!b.archived && deps.clockWorkflows && (await deps.clockWorkflows.ensureRunning("reset", b.id, b.name)))
          counts.resetClocksStarted++;
        counts.campaignsReset += await reconcileBrand(deps, b, input.sourceId);
        heartbeat(b.id);
      }
      return { counts, nextPageToken: page.nextPageToken };
    },

    /**
     * One page of campaigns for reconciliation: each scheduled campaign has a running daypart
     * clock, and its daypart state is the one its schedule gives for now.
     */
    async reconcileCampaigns(input: PageInput): Promise<{ counts: ReconcileCounts; nextPageToken: string }> {
      const counts = { ...NO_REPAIRS };
      const page = await deps.campaigns.listCampaigns({
        pageSize: deps.reconcilePageSize ?? RECONCILE_PAGE_SIZE,
        pageToken: input.pageToken,
      });
      const zones = new Map<string, string | undefined>();
      const zoneOf = async (brandId: string): Promise<string | undefined> => {
        if (!zones.has(brandId)) {
          const brand = await deps.brands.getBrand({ id: brandId }).then(
            (r) => r.brand,
            (err: unknown) => {
              if (notFound(err)) return undefined;
              throw err;
            },
          );
          zones.set(brandId, brand && !brand.archived ? brand.timeZone : undefined);
        }
        return zones.get(brandId);
      };
      for (const c of page.campaigns) {
        counts.campaignsChecked++;
        heartbeat(c.id);
        const nowMs = deps.now?.() ?? input.nowMs;
        const schedule = c.schedule;
        const scheduled = schedule !== undefined && schedule.windows.length > 0;
        const flight = flightOfCampaign(c);
        if (!scheduled && flight === undefined) continue;
        const brandZone = await zoneOf(c.brandId);
        if (brandZone === undefined) continue; // archived brand: it does not serve anyway
        // A flight-only campaign whose flight has nothing ahead has no clock (it ended its run).
        const clockNeeded =
          scheduled || (flight !== undefined && nextFlightChange(nowMs, flight, brandZone) !== undefined);
        if (
          clockNeeded &&
          deps.clockWorkflows &&
          (await deps.clockWorkflows.ensureRunning("daypart", c.id, c.name, c.brandId))
        )
          counts.daypartClocksStarted++;
        const inside = scheduled ? isInside(nowMs, windowsOf(c), schedule.timeZone || brandZone) : true;
        const phase = flight === undefined ? FlightPhase.DURING : flightPhase(nowMs, flight, brandZone);
        const flightWrong =
          (phase === FlightPhase.BEFORE) !== c.pauseReasons.includes(PauseReason.NOT_STARTED) ||
          (phase === FlightPhase.AFTER) !== c.pauseReasons.includes(PauseReason.ENDED);
        if (inside === c.pauseReasons.includes(PauseReason.OUTSIDE_DAYPART) || flightWrong) {
          const res = await deps.campaignClock.setDaypartState({
            campaignId: c.id,
            inWindow: inside,
            asOfTime: timestampFromMs(nowMs),
            sourceId: input.sourceId,
            scheduleVersion: c.scheduleVersion,
          });
          if (!res.unchanged) counts.daypartStatesRepaired++;
        }
      }
      return { counts, nextPageToken: page.nextPageToken };
    },

    /**
     * One whole reconciliation pass (every page of brands, then of campaigns). Runs recorded
     * before reconciliation went by pages call this; new ones call the page activities.
     */
    async reconcile(input: { nowMs: number; sourceId: string }): Promise<ReconcileCounts> {
      const total = { ...NO_REPAIRS };
      const steps = [
        (page: PageInput) => activities.reconcileBrands(page),
        (page: PageInput) => activities.reconcileCampaigns(page),
      ];
      for (const step of steps) {
        let pageToken = "";
        do {
          const page = await step({ ...input, pageToken });
          addCounts(total, page.counts);
          pageToken = page.nextPageToken;
        } while (pageToken !== "");
      }
      return total;
    },
  };
  return activities;
}

export type Activities = ReturnType<typeof createActivities>;

/**
 * Reconciles one brand from the current truth: the budget service opens its current day and
 * month by its own clock and answers their state, its campaigns' cap states, and the zone; the
 * campaign service takes that and the brand as BrandService holds it, and repairs every
 * campaign whose state differs (cause `reconcile`).
 */
export async function reconcileBrand(
  deps: Pick<ActivityDeps, "budgetClock" | "campaignClock">,
  b: { id: string; archived: boolean; timeZone: string; etag: string },
  sourceId: string,
): Promise<number> {
  const truth = await deps.budgetClock.openCurrentPeriods({ brandId: b.id });
  const state = (status: typeof truth.day, sequence: bigint, kind: PeriodKind) =>
    status?.periodStart === undefined
      ? undefined
      : { period: { kind, start: status.periodStart }, exhausted: status.exhausted, sequence };
  const res = await deps.campaignClock.reconcileBrand({
    brandId: b.id,
    brand: {
      archived: b.archived,
      timeZone: b.timeZone,
      version: /^v\d+$/.test(b.etag) ? BigInt(b.etag.slice(1)) : 0n,
    },
    day: state(truth.day, truth.daySequence, PeriodKind.DAY),
    month: state(truth.month, truth.monthSequence, PeriodKind.MONTH),
    caps: truth.caps.flatMap((c) =>
      c.day === undefined
        ? []
        : [{ campaignId: c.campaignId, day: c.day, exhausted: c.exhausted, sequence: c.sequence }],
    ),
    lifetimes: truth.lifetimes.map((c) => ({ campaignId: c.campaignId, exhausted: c.exhausted, sequence: c.sequence })),
    sourceId,
  });
  return res.campaignsChanged;
}
