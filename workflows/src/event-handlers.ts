import { fromBinary } from "@bufbuild/protobuf";
import type { JsMsg } from "@nats-io/jetstream";
import type { Client } from "@connectrpc/connect";
import { isSettingsChange } from "@adbudget/campaign-service/event-contract";
import type { Logger } from "@adbudget/kit";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { BrandChangeType, BrandChangedEventSchema } from "@adbudget/proto/adbudget/brand/v1/events_pb.js";
import { CampaignStateChangedEventSchema } from "@adbudget/proto/adbudget/campaign/v1/events_pb.js";
import type { ClockWorkflows } from "./client.js";

/**
 * Keeps the clocks in step with the services, from their events (durable consumers): a
 * campaign created with a schedule or whose schedule changed gets its daypart workflow started
 * or woken; a deleted campaign, or one whose schedule was removed, has its running workflow
 * woken, and the workflow, having reloaded the campaign, ends (it acts on the campaign as it is,
 * so a "removed" message delivered after a later "added" one changes nothing). A brand gets its
 * reset workflow when created (woken on updates: the zone may have moved), ended when archived
 * (an archive is final). Serving-state changes (budget, daypart, user) do not touch schedules
 * and are skipped.
 */
export function campaignEventHandler(clockWorkflows: ClockWorkflows, logger: Logger) {
  return async (msg: JsMsg): Promise<void> => {
    const event = fromBinary(CampaignStateChangedEventSchema, msg.data);
    const c = event.campaign;
    if (c === undefined) return;
    if (!isSettingsChange(event)) return;
    const scheduled = c.schedule !== undefined && c.schedule.windows.length > 0;
    const flight = c.startDate !== undefined || c.endDate !== undefined;
    if (event.deleted || (!scheduled && !flight)) {
      await clockWorkflows.wakeDaypart(c.id);
      return;
    }
    await clockWorkflows.ensureDaypart({ campaignId: c.id, brandId: c.brandId, name: c.name });
    logger.debug({ campaignId: c.id }, "daypart clock started or woken");
  };
}

/**
 * A brand created or changed: its reset clock is started or woken (the zone may have moved, and
 * with it the next midnight), and so is the daypart clock of each of its campaigns whose schedule
 * is in the brand's zone, which then reloads and recomputes in the new zone (the campaign service
 * gave those schedules a new version, so a clock still computing in the old zone changes nothing).
 */
export function brandEventHandler(
  clockWorkflows: ClockWorkflows,
  campaigns: Client<typeof CampaignService>,
  logger: Logger,
) {
  return async (msg: JsMsg): Promise<void> => {
    const event = fromBinary(BrandChangedEventSchema, msg.data);
    const b = event.brand;
    if (b === undefined) return;
    if (event.type === BrandChangeType.ARCHIVED || b.archived) {
      await clockWorkflows.stopReset(b.id);
      return;
    }
    await clockWorkflows.ensureReset({ brandId: b.id, name: b.name });
    if (event.type === BrandChangeType.UPDATED) {
      let pageToken = "";
      let woken = 0;
      do {
        const page = await campaigns.listCampaigns({ brandId: b.id, pageSize: 1000, pageToken });
        for (const c of page.campaigns) {
          // Schedules in the brand's zone, and flight dates (always in the brand's zone).
          const inBrandZone = c.schedule !== undefined && c.schedule.windows.length > 0 && c.schedule.timeZone === "";
          if (!inBrandZone && c.startDate === undefined && c.endDate === undefined) continue;
          await clockWorkflows.ensureDaypart({ campaignId: c.id, brandId: c.brandId, name: c.name });
          woken++;
        }
        pageToken = page.nextPageToken;
      } while (pageToken !== "");
      if (woken > 0) logger.info({ brandId: b.id, woken }, "daypart clocks woken after a brand change");
    }
    logger.debug({ brandId: b.id }, "reset clock started or woken");
  };
}
