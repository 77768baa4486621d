import { defineEntity, p } from "@mikro-orm/core";

/**
 * The campaign tables as MikroORM entities (schema documentation and ORM reads). State changes
 * are written with set-based SQL in one transaction with their audit rows and outbox events
 * (campaign-store.ts).
 */
export const CampaignEntity = defineEntity({
  name: "Campaign",
  tableName: "campaigns",
  properties: {
    id: p.uuid().primary(),
    brandId: p.uuid(),
    name: p.string().length(200),
    enabled: p.boolean(),
    schedule: p.json<{ timeZone: string; windows: { days: number[]; start: number; end: number }[] }>().nullable(),
    inDaypart: p.boolean(),
    daypartAsOf: p.datetime().nullable(),
    serving: p.boolean(),
    pauseReasons: p.array<number>().columnType("smallint[]"),
    version: p.bigint("bigint"),
    scheduleVersion: p.bigint("bigint"),
    createdAt: p.datetime(),
    updatedAt: p.datetime(),
    deletedAt: p.datetime().nullable(),
  },
});

export const StateChangeEntity = defineEntity({
  name: "StateChange",
  tableName: "state_changes",
  properties: {
    id: p.uuid().primary(),
    campaignId: p.uuid(),
    brandId: p.uuid(),
    fromServing: p.boolean(),
    toServing: p.boolean(),
    fromReasons: p.array<number>().columnType("smallint[]"),
    toReasons: p.array<number>().columnType("smallint[]"),
    cause: p.text(),
    sourceId: p.text(),
    changedAt: p.datetime(),
  },
});

export const entities = [CampaignEntity, StateChangeEntity];
