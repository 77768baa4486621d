import { create } from "@bufbuild/protobuf";
import { timestampFromDate, timestampFromMs } from "@bufbuild/protobuf/wkt";
import {
  BudgetChangeSchema,
  BudgetPeriodSchema,
  BudgetSchema,
  BudgetStatusSchema,
  PeriodStatusSchema,
  SpendEventSchema,
  type Budget,
  type BudgetChange,
  type BudgetPeriod,
  type BudgetStatus,
  type PeriodStatus,
  type SpendEvent,
} from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { addDays, nextMonthStart, parseDate, startOfDay } from "@adbudget/time";
import { forecastPeriods, type BrandForecast } from "./forecast.js";
import type { BrandInfo } from "./brand-directory.js";
import type { BudgetChangeRow } from "./budget-changes.js";
import type { BudgetRow, PeriodRow } from "./budget-store.js";
import { judge } from "./period-rules.js";
import type { CurrentPeriod, StoredSpend } from "./ledger-reads.js";

/** The pace of the last hour, for the forecast (absent: no forecast, as in spend answers). */
export interface Pace {
  zone: string;
  lastHour: bigint;
  /** Where a paced day's spend should stand now (GetBudgetStatus's `target_spent_micros`). */
  target?: bigint;
}

/** The first instant after the period (its next local midnight, or the next 1st). */
export function periodEnd(p: CurrentPeriod, zone: string): number {
  const start = parseDate(p.start);
  return startOfDay(p.kind === PeriodKind.MONTH ? nextMonthStart(start) : addDays(start, 1), zone);
}

/**
 * One period's status; `forecast` (GetBudgetStatus only) carries the pace of the last hour and
 * the projected exhaustion instant computed for the brand's day and month together.
 */
export function periodStatus(
  p: CurrentPeriod,
  forecast?: { lastHour: bigint; projectedMs: number | undefined; target?: bigint },
): PeriodStatus {
  const v = judge(p);
  return create(PeriodStatusSchema, {
    targetSpentMicros: forecast?.target,
    projectedExhaustTime: forecast?.projectedMs === undefined ? undefined : timestampFromMs(forecast.projectedMs),
    lastHourSpentMicros: forecast?.lastHour ?? 0n,
    periodStart: parseDate(p.start),
    spentMicros: p.spent,
    limitMicros: p.limit ?? undefined,
    remainingMicros: v.remaining ?? undefined,
    exhausted: v.exhausted,
    overspendMicros: v.overspend,
    kind: p.kind,
  });
}

export function budgetStatus(
  brand: BrandInfo,
  periods: { day: CurrentPeriod; month: CurrentPeriod },
  nowMs: number,
  pace?: Pace,
): BudgetStatus {
  const projected = pace === undefined ? undefined : forecastOf(periods, nowMs, pace);
  return create(BudgetStatusSchema, {
    brandId: brand.id,
    day: periodStatus(
      periods.day,
      pace && { lastHour: pace.lastHour, projectedMs: projected?.dayMs, target: pace.target },
    ),
    month: periodStatus(periods.month, pace && { lastHour: pace.lastHour, projectedMs: projected?.monthMs }),
    timeZone: brand.timeZone,
    currencyCode: brand.currencyCode,
    asOfTime: timestampFromMs(nowMs),
  });
}

/** The day's and month's projections at the last hour's pace (forecast.ts). */
function forecastOf(periods: { day: CurrentPeriod; month: CurrentPeriod }, nowMs: number, pace: Pace): BrandForecast {
  const day = judge(periods.day);
  const month = judge(periods.month);
  return forecastPeriods({
    day: {
      start: parseDate(periods.day.start),
      limit: periods.day.limit ?? undefined,
      remaining: day.remaining ?? undefined,
      exhausted: day.exhausted,
    },
    month: {
      remaining: month.remaining ?? undefined,
      exhausted: month.exhausted,
      endMs: periodEnd(periods.month, pace.zone),
    },
    spentInWindow: pace.lastHour,
    nowMs,
    zone: pace.zone,
  });
}

export function budgetProto(b: BudgetRow): Budget {
  return create(BudgetSchema, {
    brandId: b.brandId,
    dailyLimitMicros: b.daily ?? undefined,
    monthlyLimitMicros: b.monthly ?? undefined,
    createTime: timestampFromDate(b.createdAt),
    updateTime: timestampFromDate(b.updatedAt),
    alertPercents: b.alertPercents,
    pacingMode: b.pacing,
  });
}

export function spendProto(s: StoredSpend): SpendEvent {
  return create(SpendEventSchema, {
    eventId: s.eventId,
    brandId: s.brandId,
    campaignId: s.campaignId,
    amountMicros: s.amount,
    occurredAt: timestampFromDate(s.occurredAt),
    recordTime: timestampFromDate(s.recordedAt),
    day: parseDate(s.day),
    month: parseDate(s.month),
    brandArchived: s.brandArchived,
    outsideFlight: s.outsideFlight,
    reportedBy: s.reportedBy,
  });
}

export function periodProto(p: PeriodRow): BudgetPeriod {
  const v = judge(p);
  return create(BudgetPeriodSchema, {
    brandId: p.brandId,
    period: { kind: p.kind, start: parseDate(p.start) },
    spentMicros: p.spent,
    limitMicros: p.limit ?? undefined,
    exhausted: v.exhausted,
    overspendMicros: v.overspend,
    eventCount: p.eventCount,
    exhaustTime: p.exhaustedAt ? timestampFromDate(p.exhaustedAt) : undefined,
  });
}

export function budgetChangeProto(c: BudgetChangeRow): BudgetChange {
  return create(BudgetChangeSchema, {
    id: c.id,
    brandId: c.brandId,
    principal: c.principal,
    changeTime: timestampFromDate(c.changedAt),
    oldDailyLimitMicros: c.before.daily ?? undefined,
    oldMonthlyLimitMicros: c.before.monthly ?? undefined,
    newDailyLimitMicros: c.after.daily ?? undefined,
    newMonthlyLimitMicros: c.after.monthly ?? undefined,
    requestId: c.requestId,
    oldAlertPercents: c.alertsBefore,
    newAlertPercents: c.alertsAfter,
    oldPacingMode: c.pacingBefore,
    newPacingMode: c.pacingAfter,
  });
}
