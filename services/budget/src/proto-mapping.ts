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
import { parseDate } from "@adbudget/time";
import type { BrandInfo } from "./brand-directory.js";
import type { BudgetChangeRow } from "./budget-changes.js";
import type { BudgetRow, PeriodRow } from "./budget-store.js";
import { judge } from "./period-rules.js";
import type { CurrentPeriod, StoredSpend } from "./ledger-reads.js";

export function periodStatus(p: CurrentPeriod): PeriodStatus {
  const v = judge(p);
  return create(PeriodStatusSchema, {
    periodStart: parseDate(p.start),
    spentMicros: p.spent,
    limitMicros: p.limit ?? undefined,
    remainingMicros: v.remaining ?? undefined,
    exhausted: v.exhausted,
    overspendMicros: v.overspend,
    kind: p.kind,
  });
}

export function budgetStatus(brand: BrandInfo, periods: { day: CurrentPeriod; month: CurrentPeriod }, nowMs: number): BudgetStatus {
  return create(BudgetStatusSchema, {
    brandId: brand.id,
    day: periodStatus(periods.day),
    month: periodStatus(periods.month),
    timeZone: brand.timeZone,
    currencyCode: brand.currencyCode,
    asOfTime: timestampFromMs(nowMs),
  });
}

export function budgetProto(b: BudgetRow): Budget {
  return create(BudgetSchema, {
    brandId: b.brandId,
    dailyLimitMicros: b.daily ?? undefined,
    monthlyLimitMicros: b.monthly ?? undefined,
    createTime: timestampFromDate(b.createdAt),
    updateTime: timestampFromDate(b.updatedAt),
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
  });
}
