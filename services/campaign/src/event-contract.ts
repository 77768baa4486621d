import type { CampaignStateChangedEvent } from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";

/*
 * What the campaign service's events mean to the workloads that consume them (the budget
 * service's cap consumer, the clocks' daypart consumer): exported as
 * `@adbudget/campaign-service/event-contract`, so the rule lives with the publisher that decides
 * it, not in each consumer.
 */

/** Audit causes of the campaign calls that change a campaign's settings (CampaignService). */
export const SETTINGS_CAUSES: ReadonlySet<string> = new Set(["create", "update", "delete"]);

/**
 * Whether a campaign event may carry new settings (schedule, flight dates, cap): a create, update
 * or delete, or a settings-only change (published without an audit entry). Serving-state changes
 * (budget, daypart, user) and throttle changes (pacing) carry none, so consumers that follow
 * settings skip them.
 */
export function isSettingsChange(event: Pick<CampaignStateChangedEvent, "change" | "throttleOnly">): boolean {
  if (event.throttleOnly) return false;
  return event.change === undefined || SETTINGS_CAUSES.has(event.change.cause);
}
