import { Migration } from "@mikro-orm/migrations";

/**
 * Campaign caps (Campaign.daily_limit_micros, issue 15).
 *
 * - `campaign_caps`: each campaign's cap as the campaign service last published it (its campaign
 *   events, consumed durably), ordered by the campaign's version so a late event changes nothing.
 * - `campaign_day_spend.limit_micros`: the cap in force for that day's row (null = none);
 *   `cap_exhausted`: the row reached its cap (a cap event was published); `cap_crossed`: whether
 *   the row's LAST write took it there, so the spend statement's RETURNING (which shows only new
 *   values on PostgreSQL 15) can tell a crossing from a row that was already at its cap.
 */
export class Migration0007CampaignCaps extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table campaign_caps (
        campaign_id uuid primary key,
        brand_id uuid not null,
        daily_limit_micros bigint check (daily_limit_micros >= 0),
        version bigint not null,
        updated_at timestamptz not null
      )`);
    this.addSql(`alter table campaign_day_spend
      add column limit_micros bigint,
      add column cap_exhausted boolean not null default false,
      add column cap_crossed boolean not null default false`);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists campaign_caps");
    this.addSql(`alter table campaign_day_spend drop column if exists limit_micros, drop column if exists cap_exhausted,
      drop column if exists cap_crossed`);
  }
}
