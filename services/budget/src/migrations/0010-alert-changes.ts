import { Migration } from "@mikro-orm/migrations";
/**
 * `budget_changes.old_alert_percents` / `new_alert_percents`: a SetBudget that changed the alert
 * thresholds was recorded with its limits only, so who silenced an alert could not be told.
 * Rows from before have null (unknown), shown as no thresholds.
 */
export class Migration0010AlertChanges extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table budget_changes add column old_alert_percents smallint[] null");
    this.addSql("alter table budget_changes add column new_alert_percents smallint[] null");
  }
  override async down(): Promise<void> {
    this.addSql("alter table budget_changes drop column if exists old_alert_percents");
    this.addSql("alter table budget_changes drop column if exists new_alert_percents");
  }
}
