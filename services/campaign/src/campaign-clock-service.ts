import { timestampMs, type Timestamp } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { actorOf, checkedDate, InvalidArgumentError, required, requestId, type Logger, type Now } from "@adbudget/kit";
import type { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { PeriodKind, type Period } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import type {
  BrandFacts,
  CampaignCapState,
  CampaignLifetimeState,
  PeriodState,
} from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { reconcileBrand, type BrandTruth } from "./brand-changes.js";
import { applySignals, type KindSignal } from "./budget-signals.js";
import type { Kind } from "./campaign-rows.js";
import { formatDate, isValidZone } from "@adbudget/time";
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

  constructor(private readonly deps: { store: CampaignStore; logger: Logger; now: Now }) {
    this.writer = new DaypartWriter(deps.store, deps.logger, deps.now);
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
      asOf: new Date(timestampMs(required(req.asOfTime, "as_of_time"))),
      scheduleVersion: req.scheduleVersion,
      cause: { cause: "daypart", sourceId: this.source(req.sourceId, ctx), ...actorOf(ctx) },
    });
    return { campaign: campaignProto(campaign), unchanged };
  }

  async openBudgetPeriod(
    req: { brandId: string; period?: Period; sourceId: string; exhausted: boolean; sequence: bigint },
    ctx: HandlerContext,
  ) {
    return this.applyOpenings(req.brandId, [openingOf(req, "period")], req.sourceId, ctx);
  }

  async openBudgetPeriods(
    req: { brandId: string; periods: Pick<PeriodState, "period" | "exhausted" | "sequence">[]; sourceId: string },
    ctx: HandlerContext,
  ) {
    const signals = req.periods.map((p, i) => openingOf(p, `periods[${i}].period`));
    return this.applyOpenings(req.brandId, signals, req.sourceId, ctx);
  }

  /** Applies checked period openings of one brand in one transaction (see the two RPCs above). */
  private async applyOpenings(brandId: string, signals: KindSignal[], sourceId: string, ctx: HandlerContext) {
    const nowMs = this.deps.now();
    const day = signals.find((s) => s.kind === PeriodKind.DAY) !== undefined;
    const { changes } = await this.deps.store.tx(async (client) => {
      const changes = await applySignals(
        client,
        brandId,
        signals,
        {
          cause: day ? "reset.day" : "reset.month",
          sourceId: this.source(sourceId, ctx),
          ...actorOf(ctx),
        },
        new Date(nowMs),
      );
      return { result: undefined, changes };
    }, nowMs);
    if (changes.length > 0) {
      this.deps.logger.info(
        { brandId: brandId, periods: signals.map((s) => s.signal.period), changed: changes.length },
        "budget periods opened",
      );
    }
    return { campaignsChanged: changes.filter((c) => c.stateChange !== undefined).length };
  }

  async reconcileBrand(
    req: {
      brandId: string;
      brand?: BrandFacts;
      day?: PeriodState;
      month?: PeriodState;
      caps: CampaignCapState[];
      lifetimes: CampaignLifetimeState[];
      sourceId: string;
    },
    ctx: HandlerContext,
  ) {
    if (req.brand !== undefined && !isValidZone(req.brand.timeZone)) {
      throw new InvalidArgumentError([
        {
          field: "brand.time_zone",
          description: `${JSON.stringify(req.brand.timeZone)} is not a time zone this service knows`,
        },
      ]);
    }
    const truth: BrandTruth = {
      brandId: req.brandId,
      brand: req.brand && { archived: req.brand.archived, timeZone: req.brand.timeZone, version: req.brand.version },
      day: req.day && periodTruth(req.day, "day"),
      month: req.month && periodTruth(req.month, "month"),
      caps: req.caps.map((c, i) => {
        return {
          campaignId: c.campaignId,
          day: formatDate(checkedDate(c.day, `caps[${i}].day`)),
          exhausted: c.exhausted,
          seq: c.sequence,
        };
      }),
      lifetimes: req.lifetimes.map((c) => ({ campaignId: c.campaignId, exhausted: c.exhausted, seq: c.sequence })),
    };
    const nowMs = this.deps.now();
    const { changes } = await this.deps.store.tx(async (client) => {
      const changes = await reconcileBrand(
        client,
        truth,
        { cause: "reconcile", sourceId: this.source(req.sourceId, ctx), ...actorOf(ctx) },
        new Date(nowMs),
      );
      return { result: undefined, changes };
    }, nowMs);
    if (changes.length > 0)
      this.deps.logger.warn({ brandId: req.brandId, repaired: changes.length }, "reconciliation repaired campaigns");
    return { campaignsChanged: changes.filter((c) => c.stateChange !== undefined).length };
  }
}

/** A period of a request, checked: its kind and its start ("YYYY-MM-DD"), or INVALID_ARGUMENT naming `field`. */
function checkedPeriod(period: Period | undefined, field: string): { kind: Kind; start: string } {
  const start = checkedDate(required(period, field).start, `${field}.start`);
  const kind = period?.kind === PeriodKind.MONTH ? PeriodKind.MONTH : PeriodKind.DAY;
  if (kind === PeriodKind.MONTH && start.day !== 1) {
    throw new InvalidArgumentError([{ field: `${field}.start.day`, description: "a month period starts on the 1st" }]);
  }
  return { kind, start: formatDate(start) };
}

/** A period opening of a request, checked (`field`: where its period is in the request). */
function openingOf(p: Pick<PeriodState, "period" | "exhausted" | "sequence">, field: string): KindSignal {
  const { kind, start } = checkedPeriod(p.period, field);
  return { kind, signal: { kind: "open", period: start, exhausted: p.exhausted, seq: p.sequence } };
}

/** A reconciliation period state; its kind must be the one named. */
function periodTruth(p: PeriodState, want: "day" | "month") {
  const { kind, start } = checkedPeriod(p.period, `${want}.period`);
  if ((kind === PeriodKind.DAY) !== (want === "day"))
    throw new InvalidArgumentError([{ field: `${want}.period.kind`, description: `must be ${want}` }]);
  return { period: start, exhausted: p.exhausted, seq: p.sequence };
}
