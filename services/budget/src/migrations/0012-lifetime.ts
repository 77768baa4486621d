import { Migration } from "@mikro-orm/migrations";

/**
 * Lifetime budgets (Campaign.lifetime_limit_micros).
 *
 * - `campaign_settings.lifetime_limit_micros`: the limit as the campaign service last published it.
 * - `campaign_lifetime_spend`: each campaign's spend over its life, kept by the spend statement
 *   in the ledger's transaction like its day rows, with the limit in force (`limit_micros`,
 *   written only by the cap consumer under the row's lock), whether it was reached (`exhausted`),
 *   whether the row's last write took it there (`crossed`, as `campaign_day_spend.cap_crossed`),
 *   and the sequence of its last lifetime event (`seq`).
 *
 * Filled from the day rows for the spend recorded before: run it with every replica on this
 * version, as a replica of the previous version would record spend without adding it here.
 */
export class Migration0012Lifetime extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      "alter table campaign_settings add column lifetime_limit_micros bigint check (lifetime_limit_micros > 0)",
    );
    this.addSql(`
      create table campaign_lifetime_spend (
        brand_id uuid not null,
        campaign_id uuid not null,
        spent_micros bigint not null,
        event_count bigint not null,
        limit_micros bigint,
        exhausted boolean not null default false,
        crossed boolean not null default false,
        seq bigint not null default 0,
        primary key (brand_id, campaign_id)
      )`);
    this.addSql(`
      insert into campaign_lifetime_spend (brand_id, campaign_id, spent_micros, event_count)
      select brand_id, campaign_id, sum(spent_micros), sum(event_count) from campaign_day_spend group by brand_id, campaign_id`);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists campaign_lifetime_spend");
    this.addSql("alter table campaign_settings drop column if exists lifetime_limit_micros");
  }
}
