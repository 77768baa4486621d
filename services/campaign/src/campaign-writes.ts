import type pg from "pg";
import { capFlagsToJson } from "./cap-flags.js";
import {
  auditRow,
  stateOf,
  type BrandStateRow,
  type CampaignChange,
  type CampaignRow,
  type Cause,
  type StateChangeRow,
} from "./campaign-rows.js";
import { lockBrandCampaigns } from "./lock-order.js";
import { nextChangeOf, sameDaypartBasis } from "./next-change.js";
import { sameState, type ServingState } from "./serving-state.js";

/*
 * Campaign rows and their audit log. Each write recomputes the campaign's serving state with
 * the pure rule and records one audit row when serving or the reasons changed; the caller's
 * transaction holds the locks (lock-order.ts) and writes the outbox (campaign-store.ts).
 */

/**
 * The columns a write stores from the row, named once for the insert and the update: a column
 * added to one and not the other would be lost on the first save.
 */
function storedColumns(row: CampaignRow): [column: string, value: unknown][] {
  return [
    ["name", row.name],
    ["enabled", row.enabled],
    ["schedule", scheduleJson(row)],
    ["in_daypart", row.inDaypart],
    ["daypart_as_of", row.daypartAsOf],
    ["serving", row.serving],
    ["pause_reasons", row.reasons],
    ["version", row.version.toString()],
    ["schedule_version", row.scheduleVersion.toString()],
    ["updated_at", row.updatedAt],
    ["next_change_at", row.nextChangeAt],
    ["start_date", row.startDate],
    ["end_date", row.endDate],
    ["flight", row.flight],
    ["daily_limit_micros", row.dailyLimitMicros?.toString() ?? null],
    ["cap_flags", JSON.stringify(capFlagsToJson(row.capFlags))],
    ["lifetime_limit_micros", row.lifetimeLimitMicros?.toString() ?? null],
    ["lifetime_exhausted", row.lifetimeFlag.exhausted],
    ["lifetime_seq", row.lifetimeFlag.seq.toString()],
  ];
}

/** A new campaign, with the audit row of its first state. */
export async function insertCampaign(client: pg.ClientBase, c: CampaignRow, cause: Cause): Promise<CampaignChange> {
  const columns: [string, unknown][] = [
    ["id", c.id],
    ["brand_id", c.brandId],
    ["created_at", c.createdAt],
    ...storedColumns(c),
  ];
  const names = columns.map(([name]) => name).join(", ");
  const params = columns.map((_, i) => `$${i + 1}`).join(", ");
  await client.query(
    `insert into campaigns (${names}) values (${params})`,
    columns.map(([, value]) => value),
  );
  const first = { serving: c.serving, reasons: c.reasons };
  const stateChange = await audit(client, c, { serving: false, reasons: [] }, first, cause, c.createdAt);
  return { campaign: c, stateChange, ...by(cause) };
}

/**
 * Saves a campaign whose fields changed (settings, intent, daypart), recomputing its state.
 * Records an audit row when serving or the reasons changed.
 */
export async function saveCampaign(
  client: pg.ClientBase,
  before: CampaignRow,
  after: CampaignRow,
  brand: BrandStateRow | undefined,
  cause: Cause,
  now: Date,
): Promise<CampaignChange> {
  const next = stateOf(after, brand);
  const zone = brand?.timeZone ?? "UTC";
  const nextChangeAt = sameDaypartBasis(before, after) ? before.nextChangeAt : nextChangeOf(after, zone, now.getTime());
  const version = before.version + 1n;
  const row: CampaignRow = {
    ...after,
    nextChangeAt,
    serving: next.serving,
    reasons: next.reasons,
    version,
    updatedAt: now,
  };
  const columns = storedColumns(row);
  const assignments = columns.map(([name], i) => `${name} = $${i + 2}`).join(", ");
  await client.query(`update campaigns set ${assignments} where id = $1`, [row.id, ...columns.map(([, v]) => v)]);
  const prev = { serving: before.serving, reasons: before.reasons };
  const stateChange = sameState(prev, next) ? undefined : await audit(client, row, prev, next, cause, now);
  return { campaign: row, stateChange, ...by(cause) };
}

/** Deletes a campaign (soft: its audit log stays readable); a serving one is audited as stopped. */
export async function deleteCampaign(
  client: pg.ClientBase,
  c: CampaignRow,
  cause: Cause,
  now: Date,
): Promise<CampaignChange> {
  const sql =
    "update campaigns set deleted_at = $2, serving = false, version = version + 1, updated_at = $2 where id = $1";
  await client.query(sql, [c.id, now]);
  const row = { ...c, serving: false, deletedAt: now, version: c.version + 1n, updatedAt: now };
  const from = { serving: c.serving, reasons: c.reasons };
  const stateChange = c.serving
    ? await audit(client, row, from, { serving: false, reasons: c.reasons }, cause, now)
    : undefined;
  return { campaign: row, stateChange, deleted: true, ...by(cause) };
}

/** Who a change's event names as its maker: the cause's caller. */
function by(cause: Cause): Pick<CampaignChange, "principal" | "requestId"> {
  return { principal: cause.principal ?? "", requestId: cause.requestId ?? "" };
}

/**
 * Saves a campaign whose budget-service flags (its cap flags, its lifetime flag) moved: in full,
 * with an audit row and an event, when its serving state changes with them; else the flags alone.
 */
export async function saveFlags(
  client: pg.ClientBase,
  before: CampaignRow,
  after: CampaignRow,
  brand: BrandStateRow,
  cause: Cause,
  now: Date,
): Promise<CampaignChange[]> {
  if (!sameState({ serving: before.serving, reasons: before.reasons }, stateOf(after, brand)))
    return [await saveCampaign(client, before, after, brand, cause, now)];
  await client.query("update campaigns set cap_flags = $2, lifetime_exhausted = $3, lifetime_seq = $4 where id = $1", [
    after.id,
    JSON.stringify(capFlagsToJson(after.capFlags)),
    after.lifetimeFlag.exhausted,
    after.lifetimeFlag.seq.toString(),
  ]);
  return [];
}

/** Every live campaign of the brand again under the brand's state; saves those that changed. */
export async function recomputeBrand(
  client: pg.ClientBase,
  brand: BrandStateRow,
  cause: Cause,
  now: Date,
): Promise<CampaignChange[]> {
  const changes: CampaignChange[] = [];
  for (const c of await lockBrandCampaigns(client, brand.brandId)) {
    if (sameState({ serving: c.serving, reasons: c.reasons }, stateOf(c, brand))) continue;
    changes.push(await saveCampaign(client, c, c, brand, cause, now));
  }
  return changes;
}

/**
 * Writes the serving and daypart fields of several campaigns in one statement (their rows are
 * locked by the caller). Reasons travel as array literals: unnest would flatten an int[][].
 */
export async function writeStates(client: pg.ClientBase, rows: CampaignRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `update campaigns c set in_daypart = u.in_daypart, daypart_as_of = u.as_of, next_change_at = u.next_change_at,
            serving = u.serving, pause_reasons = u.reasons::smallint[], version = u.version, updated_at = u.updated_at,
            flight = u.flight
     from unnest($1::uuid[], $2::bool[], $3::timestamptz[], $4::timestamptz[], $5::bool[], $6::text[], $7::bigint[],
                 $8::timestamptz[], $9::int2[])
       as u(id, in_daypart, as_of, next_change_at, serving, reasons, version, updated_at, flight)
     where c.id = u.id`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.inDaypart),
      rows.map((r) => r.daypartAsOf),
      rows.map((r) => r.nextChangeAt),
      rows.map((r) => r.serving),
      rows.map((r) => arrayLiteral(r.reasons)),
      rows.map((r) => r.version.toString()),
      rows.map((r) => r.updatedAt),
      rows.map((r) => r.flight),
    ],
  );
}

/** Several audit rows in one statement. */
export async function auditMany(client: pg.ClientBase, rows: StateChangeRow[]): Promise<void> {
  if (rows.length === 0) return;
  await client.query(
    `insert into state_changes (id, campaign_id, brand_id, from_serving, to_serving, from_reasons, to_reasons, cause,
                                source_id, principal, changed_at)
     select id, campaign_id, brand_id, from_serving, to_serving, from_reasons::smallint[], to_reasons::smallint[], cause,
            source_id, principal, changed_at
     from unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bool[], $5::bool[], $6::text[], $7::text[], $8::text[],
                 $9::text[], $10::text[], $11::timestamptz[])
       as u(id, campaign_id, brand_id, from_serving, to_serving, from_reasons, to_reasons, cause, source_id, principal,
            changed_at)`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.campaignId),
      rows.map((r) => r.brandId),
      rows.map((r) => r.fromServing),
      rows.map((r) => r.toServing),
      rows.map((r) => arrayLiteral(r.fromReasons)),
      rows.map((r) => arrayLiteral(r.toReasons)),
      rows.map((r) => r.cause),
      rows.map((r) => r.sourceId),
      rows.map((r) => r.principal),
      rows.map((r) => r.changedAt),
    ],
  );
}

async function audit(
  client: pg.ClientBase,
  c: CampaignRow,
  from: ServingState,
  to: ServingState,
  cause: Cause,
  now: Date,
): Promise<StateChangeRow> {
  const row = auditRow(c, from, to, cause, now);
  await client.query(
    `insert into state_changes (id, campaign_id, brand_id, from_serving, to_serving, from_reasons, to_reasons, cause,
                                source_id, principal, changed_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
    [
      row.id,
      row.campaignId,
      row.brandId,
      row.fromServing,
      row.toServing,
      row.fromReasons,
      row.toReasons,
      row.cause,
      row.sourceId,
      row.principal,
      now,
    ],
  );
  return row;
}

function scheduleJson(c: CampaignRow): string | null {
  return c.schedule === null ? null : JSON.stringify(c.schedule);
}

/** A PostgreSQL array literal of numbers ("{1,2}"). */
function arrayLiteral(values: readonly number[]): string {
  return `{${values.join(",")}}`;
}
