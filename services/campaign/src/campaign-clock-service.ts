import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { InvalidArgumentError, dateViolation, principalOf, requestId, type Logger, type Now } from "@adbudget/kit";
import type { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { PeriodKind, type Period } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate } from "@adbudget/time";
import type { CampaignStore } from "./campaign-store.js";
import { campaignProto } from "./proto-mapping.js";

/**
 * The clocks' internal API (called by the Temporal worker). Both calls are idempotent: a
 * daypart state computed from an older schedule version, or older than the one applied, changes
 * nothing; opening a period moves the brand's current period forward only.
 */
export class CampaignClockServiceImpl implements ServiceImpl<typeof CampaignClockService> {
  constructor(private readonly deps: { store: CampaignStore; logger: Logger; now?: Now }) {}

  private source(sourceId: string, ctx: HandlerContext): string {
    return sourceId || `request:${requestId(ctx)}`;
  }

  async setDaypartState(
    req: { campaignId: string; inWindow: boolean; asOfTime?: Timestamp; sourceId: string; scheduleVersion: bigint },
    ctx: HandlerContext,
  ) {
    const asOf = new Date(timestampMs(req.asOfTime!));
    const nowMs = this.deps.now?.() ?? Date.now();
    const { result } = await this.deps.store.tx(async (client) => {
      const before = await this.deps.store.get(client, req.campaignId, true);
      // Computed from a schedule that has changed since (or was removed): the change computed the
      // state itself, and the clock that sent this is told to reload by a signal.
      const outdated = req.scheduleVersion !== 0n && req.scheduleVersion < before.scheduleVersion;
      const stale = before.daypartAsOf !== null && before.daypartAsOf > asOf;
      const confirmed = before.inDaypart === req.inWindow && before.daypartAsOf !== null && before.daypartAsOf.getTime() === asOf.getTime();
      if (outdated || stale || confirmed || before.schedule === null) {
        return { result: { campaign: before, unchanged: true }, changes: [] };
      }
      if (before.inDaypart === req.inWindow) {
        // Same state, newer as-of: remember the as-of (so older calls stay ignored) without a new
        // version or event: a clock confirming the state is not a change of the campaign.
        await this.deps.store.confirmDaypart(client, before.id, asOf);
        return { result: { campaign: before, unchanged: true }, changes: [] };
      }
      const brand = await this.deps.store.brandState(client, before.brandId, false);
      const change = await this.deps.store.save(
        client, before, { ...before, inDaypart: req.inWindow, daypartAsOf: asOf }, brand,
        { cause: "daypart", sourceId: this.source(req.sourceId, ctx), principal: principalOf(ctx)?.sub ?? "" }, new Date(nowMs),
      );
      return { result: { campaign: change.campaign, unchanged: change.stateChange === undefined }, changes: [change] };
    }, nowMs);
    return { campaign: campaignProto(result.campaign), unchanged: result.unchanged };
  }

  async openBudgetPeriod(req: { brandId: string; period?: Period; sourceId: string; exhausted: boolean; sequence: bigint }, ctx: HandlerContext) {
    const period = req.period!;
    const bad = dateViolation(period.start, "period.start");
    if (bad !== undefined) throw new InvalidArgumentError([bad]);
    const kind = period.kind === PeriodKind.MONTH ? PeriodKind.MONTH : PeriodKind.DAY;
    if (kind === PeriodKind.MONTH && period.start!.day !== 1) {
      throw new InvalidArgumentError([{ field: "period.start.day", description: "a month period starts on the 1st" }]);
    }
    const start = formatDate(period.start!);
    const nowMs = this.deps.now?.() ?? Date.now();
    const { changes } = await this.deps.store.tx(async (client) => {
      const changes = await this.deps.store.applyBudgetSignal(
        client, req.brandId, kind, { kind: "open", period: start, exhausted: req.exhausted, seq: req.sequence },
        { cause: kind === PeriodKind.DAY ? "reset.day" : "reset.month", sourceId: this.source(req.sourceId, ctx), principal: principalOf(ctx)?.sub ?? "" },
        new Date(nowMs),
      );
      return { result: undefined, changes };
    }, nowMs);
    if (changes.length > 0) this.deps.logger.info({ brandId: req.brandId, period: start, kind, changed: changes.length }, "budget period opened");
    return { campaignsChanged: changes.filter((c) => c.stateChange !== undefined).length };
  }
}
