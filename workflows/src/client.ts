import { WorkflowNotFoundError, type Client } from "@temporalio/client";
import { defineSearchAttributeKey, SearchAttributeType, TypedSearchAttributes } from "@temporalio/common";
import { budgetReset, campaignDaypart, scheduleChangedSignal, stopSignal, zoneChangedSignal } from "./workflows.js";
import { daypartWorkflowId, resetWorkflowId } from "./shared.js";

/** Custom search attributes (registered on the namespace by deploy/local/infra.sh). */
export const BrandIdKey = defineSearchAttributeKey("BrandId", SearchAttributeType.KEYWORD);
export const CampaignIdKey = defineSearchAttributeKey("CampaignId", SearchAttributeType.KEYWORD);

/**
 * Starting, waking and ending the clocks. Every call is idempotent: signalWithStart starts the
 * workflow if it is not running and signals it either way, and stopping a workflow that is not
 * running is a no-op. Workflow ids are readable, and BrandId / CampaignId plus a memo with the
 * name let an operator find them in the Temporal UI.
 */
export class Clocks {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
  ) {}

  async ensureDaypart(c: { campaignId: string; brandId: string; name: string }): Promise<void> {
    await this.client.workflow.signalWithStart(campaignDaypart, {
      workflowId: daypartWorkflowId(c.campaignId),
      taskQueue: this.taskQueue,
      args: [{ campaignId: c.campaignId, brandId: c.brandId }],
      signal: scheduleChangedSignal,
      signalArgs: [],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: CampaignIdKey, value: c.campaignId },
        { key: BrandIdKey, value: c.brandId },
      ]),
      memo: { campaignName: c.name },
    });
  }

  async stopDaypart(campaignId: string): Promise<void> {
    await this.signalIfRunning(daypartWorkflowId(campaignId), stopSignal);
  }

  async ensureReset(b: { brandId: string; name: string }): Promise<void> {
    await this.client.workflow.signalWithStart(budgetReset, {
      workflowId: resetWorkflowId(b.brandId),
      taskQueue: this.taskQueue,
      args: [{ brandId: b.brandId }],
      signal: zoneChangedSignal,
      signalArgs: [],
      typedSearchAttributes: new TypedSearchAttributes([{ key: BrandIdKey, value: b.brandId }]),
      memo: { brandName: b.name },
    });
  }

  async stopReset(brandId: string): Promise<void> {
    await this.signalIfRunning(resetWorkflowId(brandId), stopSignal);
  }

  private async signalIfRunning(workflowId: string, signal: typeof stopSignal): Promise<void> {
    try {
      await this.client.workflow.getHandle(workflowId).signal(signal);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return;
      throw err;
    }
  }
}
