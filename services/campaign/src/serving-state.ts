import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { FlightPhase } from "@adbudget/time";

/** Everything that decides whether a campaign serves. */
export interface ServingInputs {
  /** The user's intent (PauseCampaign / ResumeCampaign). */
  enabled: boolean;
  /** Inside the daypart schedule now (true without a schedule). */
  inDaypart: boolean;
  /** The brand's current day is exhausted. */
  dayExhausted: boolean;
  /** The brand's current month is exhausted. */
  monthExhausted: boolean;
  brandArchived: boolean;
  /** Where now lies relative to the campaign's flight dates (DURING without dates). */
  flight: FlightPhase;
  /** The campaign's own spend today reached its cap (Campaign.daily_limit_micros). */
  capExhausted: boolean;
  /** The campaign's spend over its life reached its lifetime limit (Campaign.lifetime_limit_micros). */
  lifetimeExhausted: boolean;
}

export interface ServingState {
  serving: boolean;
  /** Every reason that applies, in this fixed order. */
  reasons: PauseReason[];
}

/**
 * The serving rule of docs/design.md (Campaigns) as one pure function: a campaign serves iff
 * no reason applies, and `reasons` lists every one that does (not only the first), so a
 * campaign paused by the user and by budget shows both and resumes only when both are gone.
 */
export function servingState(i: ServingInputs): ServingState {
  const reasons: PauseReason[] = [];
  if (!i.enabled) reasons.push(PauseReason.PAUSED_BY_USER);
  if (!i.inDaypart) reasons.push(PauseReason.OUTSIDE_DAYPART);
  if (i.dayExhausted) reasons.push(PauseReason.DAILY_BUDGET_EXHAUSTED);
  if (i.monthExhausted) reasons.push(PauseReason.MONTHLY_BUDGET_EXHAUSTED);
  if (i.brandArchived) reasons.push(PauseReason.BRAND_ARCHIVED);
  if (i.flight === FlightPhase.BEFORE) reasons.push(PauseReason.NOT_STARTED);
  if (i.flight === FlightPhase.AFTER) reasons.push(PauseReason.ENDED);
  if (i.capExhausted) reasons.push(PauseReason.CAMPAIGN_BUDGET_EXHAUSTED);
  if (i.lifetimeExhausted) reasons.push(PauseReason.LIFETIME_BUDGET_EXHAUSTED);
  return { serving: reasons.length === 0, reasons };
}

export function sameState(a: ServingState, b: ServingState): boolean {
  return (
    a.serving === b.serving && a.reasons.length === b.reasons.length && a.reasons.every((r, i) => r === b.reasons[i])
  );
}
