import { defineEntity, p, type InferEntity } from "@mikro-orm/core";
import { OutboxEntity } from "@adbudget/kit";

/**
 * The budget tables as MikroORM entities: the schema's documentation in code and the way to
 * read them with the ORM. The spend hot path and SetBudget use set-based SQL on the same
 * tables (see spend-writer.ts): a unit of work per event would cost a round trip per row.
 * Money columns are bigint end to end (`p.bigint("bigint")`).
 */
export const BudgetEntity = defineEntity({
  name: "Budget",
  tableName: "budgets",
  properties: {
    brandId: p.uuid().primary(),
    dailyLimitMicros: p.bigint("bigint").nullable(),
    monthlyLimitMicros: p.bigint("bigint").nullable(),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
  },
});

export const BudgetPeriodEntity = defineEntity({
  name: "BudgetPeriod",
  tableName: "budget_periods",
  properties: {
    brandId: p.uuid().primary(),
    kind: p.smallint().primary(),
    periodStart: p.string().columnType("date").primary(),
    spentMicros: p.bigint("bigint"),
    eventCount: p.bigint("bigint"),
    limitMicros: p.bigint("bigint").nullable(),
    exhausted: p.boolean(),
    exhaustedAt: p.datetime().nullable(),
    updatedAt: p.datetime(),
    eventSeq: p.bigint("bigint"),
  },
});

export const SpendEventEntity = defineEntity({
  name: "SpendEvent",
  tableName: "spend_events",
  properties: {
    brandId: p.uuid().primary(),
    eventId: p.string().primary(),
    campaignId: p.uuid(),
    amountMicros: p.bigint("bigint"),
    occurredAt: p.datetime(),
    recordedAt: p.datetime(),
    day: p.string().columnType("date"),
    month: p.string().columnType("date"),
    brandArchived: p.boolean(),
  },
});

/** The zone each brand's spend is accounted in, locked before its first spend (zone-locks.ts). */
export const BrandZoneEntity = defineEntity({
  name: "BrandZone",
  tableName: "brand_zones",
  properties: {
    brandId: p.uuid().primary(),
    timeZone: p.text(),
    lockedAt: p.datetime(),
  },
});

/** The ledger, and the kit's outbox entity (this service writes the outbox with `writeOutbox`). */
export const entities = [BudgetEntity, BudgetPeriodEntity, SpendEventEntity, BrandZoneEntity, OutboxEntity];
export type BudgetEntityRow = InferEntity<typeof BudgetEntity>;
