import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { InvalidArgumentError, dateViolation, principalOf, requestId, type Logger, type Now } from "@adbudget/kit";
import type { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { PeriodKind, type Period } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate } from "@adbudget/time";
import type { CampaignStore } from "./campaign-store.js";
import { DaypartWriter } from "./daypart-writer.js";
import { campaignProto } from "./proto-mapping.js";

/**
 * The clocks' internal API (called by the Temporal worker). Both calls are idempotent: a
 * daypart state computed from an older schedule version, or older than the one applied, changes
 * nothing; opening a period moves the brand's current period forward only.
 */
export class CampaignClockServiceImpl implements ServiceImpl<typeof CampaignClockService> {
  /** Daypart writes of many clocks at one instant share transactions (daypart-writer.ts). */
  private readonly writer: DaypartWriter;

  constructor(private readonly deps: { store: CampaignStore; logger: Logger; now?: Now }) {
    this.writer = new DaypartWriter(deps.store, deps.logger, () => deps.now?.() ?? Date.now());
  }

  private source(sourceId: string, ctx: HandlerContext): string {
    return sourceId || `request:${requestId(ctx)}`;
  }

  async setDaypartState(
    req: { campaignId: string; inWindow: boolean; asOfTime?: Timestamp; sourceId: string; scheduleVersion: bigint },
    ctx: HandlerContext,
  ) {
    const { campaign, unchanged } = await this.writer.submit({
      campaignId: req.campaignId,
      inWindow: req.inWindow,
      asOf: new Date(timestampMs(req.asOfTime!)),
      scheduleVersion: req.scheduleVersion,
      cause: { cause: "daypart", sourceId: this.source(req.sourceId, ctx), principal: principalOf(ctx)?.sub ?? "" },
    });
    return { campaign: campaignProto(campaign), unchanged };
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
