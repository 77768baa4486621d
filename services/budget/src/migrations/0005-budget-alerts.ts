import { Migration } from "@mikro-orm/migrations";

/**
 * Alert thresholds: the percentages a budget names (`alert_percents`), and one row per period and
 * threshold reached (`budget_alerts`), whose primary key is what makes each alert publish once.
 */
export class Migration0005BudgetAlerts extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table budgets add column alert_percents smallint[] not null default '{}'");
    this.addSql(`
      create table budget_alerts (
        brand_id uuid not null,
        kind smallint not null,
        period_start date not null,
        percent smallint not null,
        spent_micros bigint not null,
        reached_at timestamptz not null,
        primary key (brand_id, kind, period_start, percent)
      )`);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists budget_alerts");
    this.addSql("alter table budgets drop column if exists alert_percents");
  }
}
