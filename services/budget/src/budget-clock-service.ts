import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import {
  actorOf,
  checkedDate,
  FailedPreconditionError,
  InvalidArgumentError,
  requestLogger,
  type Logger,
  type Now,
} from "@adbudget/kit";
import type { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { PeriodKind, type Period } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { formatDate, periodsOf, startOfDay } from "@adbudget/time";
import type { BrandDirectory } from "./brand-directory.js";
import type { BudgetStore } from "./budget-store.js";
import { periodStatus } from "./proto-mapping.js";
import { MAX_FUTURE_MS } from "./spend-intake.js";
import type { ZoneLocks } from "./zone-locks.js";

/**
 * adbudget.budget.v1.BudgetClockService: the clocks open a brand's new period in the ledger at
 * its first instant, so a period exhausted from its start (a limit of 0, spend dated ahead that
 * reached the limit early) is known as such at once, and its state travels on to the campaign
 * service with the sequence that orders it against the period's events.
 */
export class BudgetClockServiceImpl implements ServiceImpl<typeof BudgetClockService> {
  constructor(
    private readonly deps: { store: BudgetStore; brands: BrandDirectory; zones: ZoneLocks; logger: Logger; now: Now },
  ) {}

  async openBudgetPeriod(req: { brandId: string; period?: Period }, ctx: HandlerContext) {
    const start = checkedDate(req.period?.start, "period.start");
    const kind = req.period?.kind;
    if (kind !== PeriodKind.DAY && kind !== PeriodKind.MONTH) {
      throw new InvalidArgumentError([
        { field: "period.kind", description: "must be PERIOD_KIND_DAY or PERIOD_KIND_MONTH" },
      ]);
    }
    if (kind === PeriodKind.MONTH && start.day !== 1) {
      throw new InvalidArgumentError([{ field: "period.start.day", description: "a month period starts on the 1st" }]);
    }
    const { brand, zone } = await this.zoneOf(req.brandId);
    const nowMs = this.deps.now();
    // A period opens at its first instant; opening one that has not started (beyond the clock
    // skew spend itself may have) would judge tomorrow's limit today.
    if (startOfDay(start, zone) > nowMs + MAX_FUTURE_MS) {
      throw new FailedPreconditionError(
        `period ${formatDate(start)} of brand ${JSON.stringify(brand.id)} has not started yet in ${zone}`,
      );
    }
    const opened = await this.deps.store.openPeriod(brand.id, kind, formatDate(start), zone, nowMs, actorOf(ctx));
    requestLogger(ctx, this.deps.logger).debug(
      {
        brandId: brand.id,
        kind,
        start: formatDate(start),
        exhausted: opened.exhausted,
        sequence: opened.sequence.toString(),
      },
      "budget period opened",
    );
    return { status: periodStatus(opened.period), sequence: opened.sequence };
  }

  /**
   * Reconciliation's read of a brand's truth: its current day and month by this service's clock,
   * opened (as OpenBudgetPeriod), with their state and sequence, the cap state of each of its
   * campaigns on that day, and each one's lifetime state.
   */
  async openCurrentPeriods(req: { brandId: string }, ctx: HandlerContext) {
    const { brand, zone } = await this.zoneOf(req.brandId);
    const nowMs = this.deps.now();
    const p = periodsOf(nowMs, zone);
    const actor = actorOf(ctx);
    const day = await this.deps.store.openPeriod(brand.id, PeriodKind.DAY, formatDate(p.day), zone, nowMs, actor);
    const month = await this.deps.store.openPeriod(brand.id, PeriodKind.MONTH, formatDate(p.month), zone, nowMs, actor);
    const caps = await this.deps.store.capStates(brand.id, formatDate(p.day));
    const lifetimes = await this.deps.store.lifetimeStates(brand.id);
    return {
      day: periodStatus(day.period),
      daySequence: day.sequence,
      month: periodStatus(month.period),
      monthSequence: month.sequence,
      caps: caps.map((c) => ({ campaignId: c.campaignId, day: p.day, exhausted: c.exhausted, sequence: c.seq })),
      timeZone: zone,
      lifetimes: lifetimes.map((c) => ({ campaignId: c.campaignId, exhausted: c.exhausted, sequence: c.seq })),
    };
  }

  /**
   * The zone the brand's periods are in: the one locked at its first spend, or else its current
   * one read from BrandService now (not from the cache: the zone may change until the first
   * spend, and a clock opening a period by a zone seconds old would open the wrong day).
   */
  private async zoneOf(brandId: string) {
    const brand = await this.deps.brands.get(brandId);
    const locked = await this.deps.zones.lockedZone(brand.id);
    if (locked !== undefined) return { brand, zone: locked };
    const fresh = await this.deps.brands.fresh(brand.id);
    return { brand: fresh, zone: fresh.timeZone };
  }
}
