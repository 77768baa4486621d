import { Migration } from "@mikro-orm/migrations";

/**
 * Who did what to a brand's limits: one row per SetBudget, written in its transaction, with the
 * caller's token subject and request id, and the limits before and after (ListBudgetChanges).
 */
export class Migration0004BudgetChanges extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table budget_changes (
        id uuid primary key,
        brand_id uuid not null,
        principal text not null,
        request_id text not null,
        changed_at timestamptz not null,
        old_daily_limit_micros bigint null,
        old_monthly_limit_micros bigint null,
        new_daily_limit_micros bigint null,
        new_monthly_limit_micros bigint null
      )`);
    this.addSql("create index budget_changes_brand_idx on budget_changes (brand_id, id desc)");
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists budget_changes");
  }
}
