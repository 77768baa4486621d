import { Migration } from "@mikro-orm/migrations";

/**
 * What the ledger needs of each campaign (issue 15): its cap (Campaign.daily_limit_micros) and its
 * flight dates.
 *
 * - `campaign_settings`: each campaign's cap and flight dates as the campaign service last
 *   published them (its campaign events, consumed durably), ordered by the campaign's version so
 *   a late event changes nothing.
 * - `campaign_day_spend.limit_micros`: the cap in force for that day's row (null = none);
 *   `cap_exhausted`: the row reached its cap (a cap event was published); `cap_crossed`: whether
 *   the row's LAST write took it there, so the spend statement's RETURNING (which shows only new
 *   values on PostgreSQL 15) can tell a crossing from a row that was already at its cap.
 * - `spend_events.outside_flight`: the event's local day was outside the campaign's flight dates
 *   as the ledger knew them: recorded (it happened), and flagged.
 */
export class Migration0007CampaignSettings extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table campaign_settings (
        campaign_id uuid primary key,
        brand_id uuid not null,
        daily_limit_micros bigint check (daily_limit_micros >= 0),
        start_date date,
        end_date date,
        version bigint not null,
        updated_at timestamptz not null
      )`);
    this.addSql(`alter table campaign_day_spend
      add column limit_micros bigint,
      add column cap_exhausted boolean not null default false,
      add column cap_crossed boolean not null default false`);
    this.addSql("alter table spend_events add column outside_flight boolean not null default false");
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists campaign_settings");
    this.addSql("alter table spend_events drop column if exists outside_flight");
    this.addSql(`alter table campaign_day_spend drop column if exists limit_micros, drop column if exists cap_exhausted,
      drop column if exists cap_crossed`);
  }
}
