import { Migration } from "@mikro-orm/migrations";
import { OUTBOX_DDL } from "@adbudget/kit";

/**
 * The ledger. `spend_events` is the fact table (event_id unique forever: idempotency);
 * `budget_periods` holds one running total per brand, kind (1 day, 2 month) and local period
 * start, updated in the same transaction as the facts, so totals always equal the ledger sum.
 * `outbox` makes "period changed" and "event to publish" one commit.
 */
export class Migration0001Ledger extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table budgets (
        brand_id uuid primary key,
        daily_limit_micros bigint null check (daily_limit_micros >= 0),
        monthly_limit_micros bigint null check (monthly_limit_micros >= 0),
        created_at timestamptz not null,
        updated_at timestamptz not null
      )`);
    this.addSql(`
      create table budget_periods (
        brand_id uuid not null,
        kind smallint not null check (kind in (1, 2)),
        period_start date not null,
        spent_micros bigint not null default 0,
        event_count bigint not null default 0,
        limit_micros bigint null,
        exhausted boolean not null default false,
        exhausted_at timestamptz null,
        updated_at timestamptz not null,
        primary key (brand_id, kind, period_start)
      )`);
    this.addSql(`
      create table spend_events (
        event_id text primary key,
        brand_id uuid not null,
        campaign_id uuid not null,
        amount_micros bigint not null check (amount_micros > 0),
        occurred_at timestamptz not null,
        recorded_at timestamptz not null,
        day date not null,
        month date not null,
        brand_archived boolean not null default false
      )`);
    this.addSql("create index spend_events_brand_idx on spend_events (brand_id, occurred_at desc, event_id desc)");
    this.addSql(
      "create index spend_events_campaign_idx on spend_events (campaign_id, occurred_at desc, event_id desc)",
    );
    for (const sql of OUTBOX_DDL) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists outbox, spend_events, budget_periods, budgets");
  }
}
