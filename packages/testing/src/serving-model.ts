/**
 * The serving rule of docs/design.md (Campaigns) written again, for tests only, from the
 * contract's words and nothing of the production code: no @adbudget/time, no servingState, no
 * stored flags. Tests compare what the services hold after any interleaving of events with what
 * this says the current inputs give (the model-based race test, the chaos run).
 *
 * Local dates come from Intl directly; windows are checked on the local clock. In the repeated
 * hour of a fall-back that is not the contract's "the earlier occurrence" (a window ending at
 * 01:30 is inside again in the second 01:00-01:30): give the model windows away from such an
 * hour, or the daypart state itself (`inDaypart`), as the model-based race test does.
 * Reasons are the PauseReason names without their prefix, in the contract's order.
 */

import { intlWallClock } from "./intl-wall-clock.js";

/** A brand as the model sees it: its zone and archived flag, and its budget's limits (null = none). */
export interface ModelBrand {
  zone: string;
  archived: boolean;
  dailyLimit: bigint | null;
  monthlyLimit: bigint | null;
}

/** A campaign's own inputs. */
export interface ModelCampaign {
  enabled: boolean;
  /** Inside its daypart windows now; undefined = computed from `windows` (none = always inside). */
  inDaypart?: boolean;
  windows?: ModelWindow[];
  /** The zone of the windows ("" or undefined = the brand's). */
  windowsZone?: string;
  /** Flight dates "YYYY-MM-DD" in the brand's zone (undefined = open-ended). */
  startDate?: string;
  endDate?: string;
  /** The cap on its spend per brand day (null = none). */
  dailyCap: bigint | null;
  /** The limit on its spend over its life, every day of it (undefined or null = none). */
  lifetimeLimit?: bigint | null;
}

/** A weekly window: days 1 (Monday) to 7 (Sunday), "HH:MM" to "HH:MM" ("24:00" allowed; end <= start runs past midnight). */
export interface ModelWindow {
  days: number[];
  start: string;
  end: string;
}

/** One spend event as reported. */
export interface ModelSpend {
  campaignId: string;
  amount: bigint;
  occurredAtMs: number;
}

export type ModelReason =
  | "PAUSED_BY_USER"
  | "OUTSIDE_DAYPART"
  | "DAILY_BUDGET_EXHAUSTED"
  | "MONTHLY_BUDGET_EXHAUSTED"
  | "BRAND_ARCHIVED"
  | "NOT_STARTED"
  | "ENDED"
  | "CAMPAIGN_BUDGET_EXHAUSTED"
  | "LIFETIME_BUDGET_EXHAUSTED";

export interface ModelState {
  serving: boolean;
  reasons: ModelReason[];
}

/** The local date of an instant. */
export function localDateOf(instant: number, zone: string): string {
  return intlWallClock(instant, zone).date;
}

const minutes = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/**
 * Inside a weekly window now: on one of its days between start and end of the local clock, or,
 * for a window running past midnight, after its start on one of its days or before its end on
 * the day after one of them.
 */
export function insideWindows(instant: number, windows: ModelWindow[], zone: string): boolean {
  if (windows.length === 0) return true;
  const { weekday, minute } = intlWallClock(instant, zone);
  const yesterday = weekday === 1 ? 7 : weekday - 1;
  return windows.some((w) => {
    const s = minutes(w.start);
    const e = minutes(w.end);
    if (e > s) return w.days.includes(weekday) && minute >= s && minute < e;
    return (w.days.includes(weekday) && minute >= s) || (w.days.includes(yesterday) && minute < e);
  });
}

/**
 * What the rules say for a campaign now: the spend of the brand's local day and month that
 * contain `now` against the limits (exhausted from spent >= limit, a limit of 0 from the first
 * instant), the campaign's own spend today against its cap, its flight, its windows, its user
 * intent and its brand's archive, and its spend over its life (every event of it) against its
 * lifetime limit.
 */
export function expectedServing(
  now: number,
  brand: ModelBrand,
  campaign: ModelCampaign,
  campaignId: string,
  spend: Iterable<ModelSpend>,
): ModelState {
  const today = localDateOf(now, brand.zone);
  const month = today.slice(0, 7);
  let day = 0n;
  let monthly = 0n;
  let own = 0n;
  let life = 0n;
  for (const s of spend) {
    if (s.campaignId === campaignId) life += s.amount;
    const d = localDateOf(s.occurredAtMs, brand.zone);
    if (d.slice(0, 7) === month) monthly += s.amount;
    if (d !== today) continue;
    day += s.amount;
    if (s.campaignId === campaignId) own += s.amount;
  }
  const inDaypart =
    campaign.inDaypart ?? insideWindows(now, campaign.windows ?? [], campaign.windowsZone || brand.zone);
  const reasons: ModelReason[] = [];
  if (!campaign.enabled) reasons.push("PAUSED_BY_USER");
  if (!inDaypart) reasons.push("OUTSIDE_DAYPART");
  if (brand.dailyLimit !== null && day >= brand.dailyLimit) reasons.push("DAILY_BUDGET_EXHAUSTED");
  if (brand.monthlyLimit !== null && monthly >= brand.monthlyLimit) reasons.push("MONTHLY_BUDGET_EXHAUSTED");
  if (brand.archived) reasons.push("BRAND_ARCHIVED");
  if (campaign.startDate !== undefined && today < campaign.startDate) reasons.push("NOT_STARTED");
  if (campaign.endDate !== undefined && today > campaign.endDate) reasons.push("ENDED");
  if (campaign.dailyCap !== null && own >= campaign.dailyCap) reasons.push("CAMPAIGN_BUDGET_EXHAUSTED");
  const lifetime = campaign.lifetimeLimit ?? null;
  if (lifetime !== null && life >= lifetime) reasons.push("LIFETIME_BUDGET_EXHAUSTED");
  return { serving: reasons.length === 0, reasons };
}
