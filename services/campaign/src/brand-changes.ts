import type pg from "pg";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { isInside } from "@adbudget/time";
import { applyTruth, rezoneFlags, type PeriodTruth } from "./budget-flags.js";
import { applyCapTruth, applyLifetimeTruth, type CapFlag, type CapSignal } from "./cap-flags.js";
import {
  brandState,
  capFloorOf,
  kindName,
  lockedBrand,
  lockedBrandState,
  moveFlags,
  upsertBrand,
  type BrandFacts,
} from "./brand-state.js";
import { stateOf, type BrandStateRow, type CampaignChange, type CampaignRow, type Cause } from "./campaign-rows.js";
import { recomputeBrand, saveCampaign, saveFlags } from "./campaign-writes.js";
import { flightAt, hasFlight } from "./flight.js";
import { lockBrandCampaigns } from "./lock-order.js";
import { sameState } from "./serving-state.js";

/*
 * Changes of a brand itself, as BrandService holds it: a brand event (archived, zone), newer
 * brand data read by CreateCampaign, and reconciliation from the truth of BrandService and the
 * budget service. Each is a brand-wide write: the brand's row is locked FOR UPDATE first, then
 * its campaigns in id order (lock-order.ts). A zone change is the one that moves most: the
 * brand's current periods and every schedule and flight evaluated in the brand's zone.
 */

/** What reconciliation knows of a brand's truth (CampaignClockService.ReconcileBrand). */
export interface BrandTruth {
  brandId: string;
  /** The brand as BrandService holds it (absent: not checked). */
  brand?: { archived: boolean; timeZone: string; version: bigint };
  /** The budget service's current day and month, with their state and sequence. */
  day?: PeriodTruth;
  month?: PeriodTruth;
  /** The cap state of each capped campaign on the budget's current day. */
  caps: (CapSignal & { campaignId: string })[];
  /** The lifetime state of each campaign the budget service knows. */
  lifetimes: (CapFlag & { campaignId: string })[];
}

/**
 * Brand archived / zone changed: store it and recompute the brand's campaigns. Ordered by the
 * brand's version: one not newer than the stored row changes nothing, so a redelivered or late
 * event cannot undo a newer one.
 */
export async function applyBrand(
  client: pg.ClientBase,
  brand: BrandFacts,
  cause: Cause,
  now: Date,
): Promise<CampaignChange[]> {
  const before = await lockedBrandState(client, brand.id);
  if (before !== undefined && before.brandVersion >= brand.version) return [];
  return storeBrand(client, before, brand, cause, now);
}

/**
 * Writes the brand's row and judges its campaigns again. A moved zone first moves the brand's
 * current day and month to the new zone's (budget events and openings of those periods apply
 * from then on), then re-evaluates schedules and flights (`rezone`).
 */
async function storeBrand(
  client: pg.ClientBase,
  before: BrandStateRow | undefined,
  brand: BrandFacts,
  cause: Cause,
  now: Date,
  /** Written over a row of the same or a higher version (reconciliation repairing a drifted row). */
  force = false,
): Promise<CampaignChange[]> {
  let state = await upsertBrand(client, brand, now, force);
  if (before !== undefined && before.timeZone !== state.timeZone) {
    // The current day and month are the ones of the new zone, even if earlier (a zone moved
    // west): the budget events and openings of those periods apply from now on.
    for (const kind of [PeriodKind.DAY, PeriodKind.MONTH] as const) {
      state = (await moveFlags(client, state, kind, (flags, today) => rezoneFlags(flags, today, kindName(kind)), now))
        .brand;
    }
    return rezone(client, state, cause, now);
  }
  return recomputeBrand(client, state, cause, now);
}

/**
 * Reconciliation of one brand from the current truth: the brand as BrandService holds it, and
 * the budget service's current day and month and the cap state of each of the brand's capped
 * campaigns today, read just before. Each replaces what this service holds unless what it holds
 * carries a higher sequence (an event committed after the read); then EVERY campaign of the
 * brand is judged again and whatever differs is saved and recorded with `cause` (reconcile),
 * whether or not a flag moved: a campaign saved from a state that was wrong is repaired too.
 */
export async function reconcileBrand(
  client: pg.ClientBase,
  truth: BrandTruth,
  cause: Cause,
  now: Date,
): Promise<CampaignChange[]> {
  const changes: CampaignChange[] = [];
  let brand = await lockedBrand(client, truth.brandId, now);
  const b = truth.brand;
  if (
    b !== undefined &&
    b.version >= brand.brandVersion &&
    (b.version > brand.brandVersion || b.archived !== brand.archived || b.timeZone !== brand.timeZone)
  ) {
    // Written over what is stored: the same version with other values is a row that drifted.
    changes.push(...(await storeBrand(client, brand, { id: brand.brandId, ...b }, cause, now, true)));
    brand = (await brandState(client, brand.brandId)) ?? brand;
  }
  for (const [kind, t] of [
    [PeriodKind.DAY, truth.day],
    [PeriodKind.MONTH, truth.month],
  ] as const) {
    if (t !== undefined) {
      brand = (
        await moveFlags(
          client,
          brand,
          kind,
          (flags, today, latest) => applyTruth(flags, t, today, kindName(kind), latest),
          now,
        )
      ).brand;
    }
  }
  const campaigns = await lockBrandCampaigns(client, brand.brandId);
  const caps = new Map<string, CapSignal[]>();
  for (const t of truth.caps) caps.set(t.campaignId, [...(caps.get(t.campaignId) ?? []), t]);
  const lifetimes = new Map(truth.lifetimes.map((t) => [t.campaignId, t]));
  const floor = capFloorOf(brand);
  for (const c of campaigns) {
    const flags = (caps.get(c.id) ?? []).reduce((f, t) => applyCapTruth(f, t, floor), c.capFlags);
    const lifetime = lifetimes.get(c.id);
    const lifetimeFlag = lifetime === undefined ? c.lifetimeFlag : applyLifetimeTruth(c.lifetimeFlag, lifetime);
    const after: CampaignRow = { ...c, capFlags: flags, lifetimeFlag };
    // A flag that moved, or a state that was wrong whatever the flags (saveFlags saves it whole).
    const moved = flags !== c.capFlags || lifetimeFlag !== c.lifetimeFlag;
    if (moved || !sameState({ serving: c.serving, reasons: c.reasons }, stateOf(after, brand)))
      changes.push(...(await saveFlags(client, c, after, brand, cause, now)));
  }
  return changes;
}

/**
 * The brand's zone moved: schedules in the brand's zone are evaluated in the new one at once,
 * and get a new schedule version, so a daypart clock still computing with the old zone changes
 * nothing (its workflow is signalled to reload).
 */
async function rezone(client: pg.ClientBase, brand: BrandStateRow, cause: Cause, now: Date): Promise<CampaignChange[]> {
  const changes: CampaignChange[] = [];
  for (const c of await lockBrandCampaigns(client, brand.brandId)) {
    if ((c.schedule === null || c.schedule.timeZone !== "") && !hasFlight(c)) {
      const next = stateOf(c, brand);
      if (!sameState({ serving: c.serving, reasons: c.reasons }, next))
        changes.push(await saveCampaign(client, c, c, brand, cause, now));
      continue;
    }
    // Flight dates are days of the brand's zone too: their phase moves with it.
    const after: CampaignRow = {
      ...c,
      inDaypart:
        c.schedule === null ? true : isInside(now.getTime(), c.schedule.windows, c.schedule.timeZone || brand.timeZone),
      flight: flightAt(c, brand.timeZone, now.getTime()),
      daypartAsOf: now,
      scheduleVersion: c.scheduleVersion + 1n,
    };
    changes.push(await saveCampaign(client, c, after, brand, cause, now));
  }
  return changes;
}
