import { Migration } from "@mikro-orm/migrations";

/**
 * Each campaign's spend per local day of its brand, kept by the spend statement in the ledger's
 * transaction (GetCampaignSpend; the base of campaign caps). Filled from the ledger for the
 * spend recorded before: run it with every replica on this version, as a replica of the previous
 * version would record spend without adding it here.
 */
export class Migration0006CampaignDaySpend extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table campaign_day_spend (
        brand_id uuid not null,
        campaign_id uuid not null,
        day date not null,
        spent_micros bigint not null,
        event_count bigint not null,
        primary key (brand_id, campaign_id, day)
      )`);
    this.addSql(`
      insert into campaign_day_spend (brand_id, campaign_id, day, spent_micros, event_count)
      select brand_id, campaign_id, day, sum(amount_micros), count(*) from spend_events group by brand_id, campaign_id, day`);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists campaign_day_spend");
  }
}
