import { Migration } from "@mikro-orm/migrations";

/**
 * Budget flags per period (budget-flags.ts): a brand keeps its current day and month in
 * `brand_state`, and `budget_flags` holds the flag of each period it knows (the current one, and
 * a later one exhausted early by spend dated ahead), so an early exhaustion of tomorrow pauses
 * nothing today. The flags stored so far (one per kind, of the period then current) move over.
 *
 * `campaigns.schedule_version` increases with every schedule change: the daypart clock names
 * the version it computed from, and a state computed from an older one changes nothing.
 */
export class Migration0003PeriodFlags extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table budget_flags (
        brand_id uuid not null,
        kind smallint not null check (kind in (1, 2)),
        period_start date not null,
        exhausted boolean not null,
        seq bigint not null,
        primary key (brand_id, kind, period_start)
      )`);
    this.addSql(`insert into budget_flags (brand_id, kind, period_start, exhausted, seq)
                 select brand_id, 1, day_period, day_exhausted, day_seq from brand_state where day_period is not null
                 union all
                 select brand_id, 2, month_period, month_exhausted, month_seq from brand_state where month_period is not null`);
    this.addSql(
      "alter table brand_state drop column day_exhausted, drop column day_seq, drop column month_exhausted, drop column month_seq",
    );
    this.addSql("alter table campaigns add column schedule_version bigint not null default 0");
    this.addSql("update campaigns set schedule_version = 1 where schedule is not null");
  }

  override async down(): Promise<void> {
    this.addSql("alter table campaigns drop column if exists schedule_version");
    this
      .addSql(`alter table brand_state add column day_exhausted boolean not null default false, add column day_seq bigint not null default 0,
                 add column month_exhausted boolean not null default false, add column month_seq bigint not null default 0`);
    this.addSql("drop table if exists budget_flags");
  }
}
