import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from "@temporalio/client";
import { defineSearchAttributeKey, SearchAttributeType, TypedSearchAttributes } from "@temporalio/common";
import {
  budgetReset,
  campaignDaypart,
  reconcileClocks,
  scheduleChangedSignal,
  stopSignal,
  zoneChangedSignal,
} from "./workflows.js";
import { daypartWorkflowId, RECONCILE_WORKFLOW_ID, resetWorkflowId } from "./shared.js";

/** Custom search attributes (registered on the namespace by deploy/local/infra.sh). */
export const BrandIdKey = defineSearchAttributeKey("BrandId", SearchAttributeType.KEYWORD);
export const CampaignIdKey = defineSearchAttributeKey("CampaignId", SearchAttributeType.KEYWORD);

/**
 * Starting, waking and ending the clocks. Every call is idempotent: signalWithStart starts the
 * workflow if it is not running and signals it either way, and stopping a workflow that is not
 * running is a no-op. Workflow ids are readable, and BrandId / CampaignId plus a memo with the
 * name let an operator find them in the Temporal UI.
 */
export class ClockWorkflows {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    /** CLOCK_OFFSET_MS, passed to the workflows it starts (0: not passed at all). */
    private readonly clockOffsetMs = 0,
  ) {}

  private offset(): { clockOffsetMs?: number } {
    return this.clockOffsetMs === 0 ? {} : { clockOffsetMs: this.clockOffsetMs };
  }

  async ensureDaypart(c: { campaignId: string; brandId: string; name: string }): Promise<void> {
    await this.client.workflow.signalWithStart(campaignDaypart, {
      workflowId: daypartWorkflowId(c.campaignId),
      taskQueue: this.taskQueue,
      args: [{ campaignId: c.campaignId, brandId: c.brandId, ...this.offset() }],
      signal: scheduleChangedSignal,
      signalArgs: [],
      typedSearchAttributes: new TypedSearchAttributes([
        { key: CampaignIdKey, value: c.campaignId },
        { key: BrandIdKey, value: c.brandId },
      ]),
      memo: { campaignName: c.name },
    });
  }

  /**
   * Wakes the campaign's clock if it runs, to reload the campaign: it ends by itself when the
   * campaign is gone or has neither a schedule nor flight dates left. Never a stop by the
   * message's word: a "schedule removed" delivered late (a failed handler retried after later
   * messages) must not end the clock of a campaign that has a schedule again.
   */
  async wakeDaypart(campaignId: string): Promise<void> {
    await this.signalIfRunning(daypartWorkflowId(campaignId), scheduleChangedSignal);
  }

  async ensureReset(b: { brandId: string; name: string }): Promise<void> {
    await this.client.workflow.signalWithStart(budgetReset, {
      workflowId: resetWorkflowId(b.brandId),
      taskQueue: this.taskQueue,
      args: [{ brandId: b.brandId, ...this.offset() }],
      signal: zoneChangedSignal,
      signalArgs: [],
      typedSearchAttributes: new TypedSearchAttributes([{ key: BrandIdKey, value: b.brandId }]),
      memo: { brandName: b.name },
    });
  }

  async stopReset(brandId: string): Promise<void> {
    await this.signalIfRunning(resetWorkflowId(brandId), stopSignal);
  }

  /**
   * Starts the clock if it is not running (a reconciliation repair). Returns true when it had
   * to start it.
   */
  async ensureRunning(kind: "daypart" | "reset", id: string, name: string, brandId = ""): Promise<boolean> {
    const workflowId = kind === "daypart" ? daypartWorkflowId(id) : resetWorkflowId(id);
    try {
      const d = await this.client.workflow.getHandle(workflowId).describe();
      if (d.status.name === "RUNNING") return false;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    if (kind === "daypart") await this.ensureDaypart({ campaignId: id, brandId, name });
    else await this.ensureReset({ brandId: id, name });
    return true;
  }

  /** Starts the periodic reconciliation workflow unless it runs already. */
  async ensureReconcile(intervalMs: number): Promise<void> {
    try {
      await this.client.workflow.start(reconcileClocks, {
        workflowId: RECONCILE_WORKFLOW_ID,
        taskQueue: this.taskQueue,
        args: [{ intervalMs, ...this.offset() }],
        memo: { purpose: "repairs drift between budgets, schedules, campaign states and clocks" },
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return;
      throw err;
    }
  }

  private async signalIfRunning(
    workflowId: string,
    signal: typeof stopSignal | typeof scheduleChangedSignal,
  ): Promise<void> {
    try {
      await this.client.workflow.getHandle(workflowId).signal(signal);
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) return;
      throw err;
    }
  }
}
