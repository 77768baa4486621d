import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { requestId, type Logger } from "@adbudget/kit";
import type { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { PeriodKind, type Period } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate } from "@adbudget/time";
import type { CampaignStore } from "./campaign-store.js";
import { campaignProto } from "./proto-mapping.js";

/**
 * The clocks' internal API (called by the Temporal worker). Both calls are idempotent: a
 * daypart state older than the one applied changes nothing, and opening a period clears only
 * flags of earlier periods.
 */
export class CampaignClockServiceImpl implements ServiceImpl<typeof CampaignClockService> {
  constructor(private readonly deps: { store: CampaignStore; logger: Logger; now?: () => number }) {}

  private source(sourceId: string, ctx: HandlerContext): string {
    return sourceId || `request:${requestId(ctx)}`;
  }

  async setDaypartState(req: { campaignId: string; inWindow: boolean; asOfTime?: Timestamp; sourceId: string }, ctx: HandlerContext) {
    const asOf = new Date(timestampMs(req.asOfTime!));
    const nowMs = this.deps.now?.() ?? Date.now();
    const { result } = await this.deps.store.tx(async (client) => {
      const before = await this.deps.store.get(client, req.campaignId, true);
      const stale = before.daypartAsOf !== null && before.daypartAsOf > asOf;
      if (stale || (before.inDaypart === req.inWindow && before.daypartAsOf !== null && before.daypartAsOf.getTime() === asOf.getTime())) {
        return { result: { campaign: before, unchanged: true }, changes: [] };
      }
      if (before.inDaypart === req.inWindow) {
        // Same state, newer as-of: remember the as-of (so older calls stay ignored) without a new
        // version or event: a clock confirming the state is not a change of the campaign.
        await client.query("update campaigns set daypart_as_of = $2 where id = $1", [before.id, asOf]);
        return { result: { campaign: before, unchanged: true }, changes: [] };
      }
      const brand = await this.deps.store.brandState(client, before.brandId, false);
      const change = await this.deps.store.save(
        client, before, { ...before, inDaypart: req.inWindow, daypartAsOf: asOf }, brand,
        { cause: "daypart", sourceId: this.source(req.sourceId, ctx) }, new Date(nowMs),
      );
      return { result: { campaign: change.campaign, unchanged: change.stateChange === undefined }, changes: [change] };
    }, nowMs);
    return { campaign: campaignProto(result.campaign), unchanged: result.unchanged };
  }

  async openBudgetPeriod(req: { brandId: string; period?: Period; sourceId: string }, ctx: HandlerContext) {
    const period = req.period!;
    const kind = period.kind === PeriodKind.MONTH ? 2 : 1;
    const start = formatDate(period.start ?? { year: 0, month: 0, day: 0 });
    const nowMs = this.deps.now?.() ?? Date.now();
    const { changes } = await this.deps.store.tx(async (client) => {
      const changes = await this.deps.store.applyBudgetSignal(
        client, req.brandId, kind, { kind: "open", period: start },
        { cause: kind === 1 ? "reset.day" : "reset.month", sourceId: this.source(req.sourceId, ctx) }, new Date(nowMs),
      );
      return { result: undefined, changes };
    }, nowMs);
    if (changes.length > 0) this.deps.logger.info({ brandId: req.brandId, period: start, kind, changed: changes.length }, "budget period opened");
    return { campaignsChanged: changes.filter((c) => c.stateChange !== undefined).length };
  }
}
