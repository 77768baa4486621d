import { Migration } from "@mikro-orm/migrations";

/**
 * Event ids are unique per brand, not globally: ad servers choose ids per brand, and two brands
 * may use the same id (before, brand B's event with an id brand A had used was answered as A's
 * duplicate and dropped). Existing rows need no change: ids that were unique across all brands
 * are unique within each brand, so the new key is valid for every stored row.
 *
 * `budget_periods.event_seq` is the sequence of the period's last published event: the campaign
 * service orders the state a period opens with against the events of that period.
 *
 * `brand_zones` holds, per brand, the zone its spend is accounted in, locked at BrandService
 * before the brand's first spend (LockBrandTimeZone); once written it never changes.
 */
export class Migration0003BrandScopedLedger extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table spend_events drop constraint spend_events_pkey");
    this.addSql("alter table spend_events add constraint spend_events_pkey primary key (brand_id, event_id)");
    this.addSql("alter table budget_periods add column event_seq bigint not null default 0");
    this.addSql(`
      create table brand_zones (
        brand_id uuid primary key,
        time_zone text not null,
        locked_at timestamptz not null
      )`);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists brand_zones");
    this.addSql("alter table budget_periods drop column if exists event_seq");
    this.addSql("alter table spend_events drop constraint spend_events_pkey");
    this.addSql("alter table spend_events add constraint spend_events_pkey primary key (event_id)");
  }
}
