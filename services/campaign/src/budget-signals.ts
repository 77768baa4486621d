import type pg from "pg";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, periodsOf } from "@adbudget/time";
import { applyBudgetSignal as applyToFlags, type BudgetSignal } from "./budget-flags.js";
import { applyCapSignal, applyLifetimeSignal, type CapFlag, type CapSignal } from "./cap-flags.js";
import { brandOf, capFloorOf, kindName, lockedBrand, moveFlags } from "./brand-state.js";
import type { CampaignChange, Cause, Kind } from "./campaign-rows.js";
import { recomputeBrand, saveFlags } from "./campaign-writes.js";
import { lockCampaign } from "./lock-order.js";

/*
 * The budget service's signals, applied to a brand and its campaigns: period exhaustion
 * (events and openings, budget-flags.ts) and campaign caps (cap-flags.ts). Each is a brand-wide
 * write: the brand's row is locked FOR UPDATE first (lock-order.ts).
 */

/** One budget signal of one kind: several may apply at once (the day and the month on the 1st). */
export interface KindSignal {
  kind: Kind;
  signal: BudgetSignal;
}

/**
 * Applies a budget signal (an event, or a period opening) to the brand's flags of one kind and
 * recomputes the brand's campaigns when the current period's exhaustion changed. Idempotent and
 * order-insensitive (budget-flags.ts); a brand never seen gets a row.
 */
export function applyBudgetSignal(
  client: pg.ClientBase,
  brandId: string,
  kind: Kind,
  signal: BudgetSignal,
  cause: Cause,
  now: Date,
): Promise<CampaignChange[]> {
  return applySignals(client, brandId, [{ kind, signal }], cause, now);
}

/**
 * Applies several budget signals of one brand in ONE transaction and recomputes its campaigns
 * once: the day and the month opening together on the 1st, so a campaign paused by the old day
 * does not serve for an instant between the new day's opening and a new month that opens
 * exhausted.
 */
export async function applySignals(
  client: pg.ClientBase,
  brandId: string,
  signals: KindSignal[],
  cause: Cause,
  now: Date,
): Promise<CampaignChange[]> {
  let brand = await lockedBrand(client, brandId, now);
  let recompute = false;
  for (const { kind, signal } of signals) {
    const r = await moveFlags(
      client,
      brand,
      kind,
      (before, today) => applyToFlags(before, signal, today, kindName(kind)),
      now,
    );
    brand = r.brand;
    recompute ||= r.recompute;
  }
  return recompute ? recomputeBrand(client, brand, cause, now) : [];
}

/**
 * Applies a cap event of the budget service (CampaignCapEvent) to one campaign (cap-flags.ts).
 * Idempotent and order-insensitive: each brand day keeps the highest sequence; the flag of the
 * brand's current day is the one judged (stateOf), so an event of yesterday arriving late
 * pauses nothing and one of tomorrow pauses nothing yet. Writes an audit row and an event only
 * when serving or the reasons changed.
 *
 * The brand's row is locked FOR UPDATE first (an event of today can make today the brand's
 * current day, a brand-wide write), and the campaign is judged by the brand's state read after
 * that lock: never by one read before a concurrent budget event committed.
 */
export async function applyCap(
  client: pg.ClientBase,
  campaignId: string,
  signal: CapSignal,
  cause: Cause,
  now: Date,
): Promise<CampaignChange[]> {
  const brandId = await brandOf(client, campaignId);
  if (brandId === undefined) return [];
  let brand = await lockedBrand(client, brandId, now);
  const changes: CampaignChange[] = [];
  // The event is of today (by this service's clock in the brand's zone), which is not the
  // brand's current day yet (no budget event or reset of it arrived so far): today becomes
  // current. An event of an earlier day never does: it can only be late.
  const today = formatDate(periodsOf(now.getTime(), brand.timeZone).day);
  if ((brand.dayPeriod ?? "") < signal.day && signal.day === today) {
    const opened: BudgetSignal = { kind: "event", period: signal.day, exhausted: false, seq: 0n };
    const r = await moveFlags(
      client,
      brand,
      PeriodKind.DAY,
      (before, day) => applyToFlags(before, opened, day, "day"),
      now,
    );
    brand = r.brand;
    // The new day's recompute of the brand's other campaigns is the calendar's doing, not the
    // caller's whose event happened to bring the day in: it names no one.
    if (r.recompute)
      changes.push(...(await recomputeBrand(client, brand, { cause: "reset.day", sourceId: cause.sourceId }, now)));
  }
  const c = await lockCampaign(client, campaignId);
  if (c === undefined) return changes;
  const flags = applyCapSignal(c.capFlags, signal, capFloorOf(brand));
  if (flags === c.capFlags) return changes;
  return [...changes, ...(await saveFlags(client, c, { ...c, capFlags: flags }, brand, cause, now))];
}

/**
 * Applies a lifetime event of the budget service (a CampaignCapEvent with `lifetime`) to one
 * campaign: the higher sequence wins (cap-flags.ts), and no day is involved, so neither a late
 * nor a repeated event undoes a newer one. Writes an audit row and an event only when serving
 * or the reasons changed. Lock order: the brand's row, then the campaign's (lock-order.ts); the
 * campaign is judged by the brand's state read after that lock.
 */
export async function applyLifetime(
  client: pg.ClientBase,
  campaignId: string,
  signal: CapFlag,
  cause: Cause,
  now: Date,
): Promise<CampaignChange[]> {
  const brandId = await brandOf(client, campaignId);
  if (brandId === undefined) return [];
  const brand = await lockedBrand(client, brandId, now);
  const c = await lockCampaign(client, campaignId);
  if (c === undefined) return [];
  const flag = applyLifetimeSignal(c.lifetimeFlag, signal);
  if (flag === c.lifetimeFlag) return [];
  return saveFlags(client, c, { ...c, lifetimeFlag: flag }, brand, cause, now);
}
