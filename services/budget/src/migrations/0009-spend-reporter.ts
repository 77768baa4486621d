import { Migration } from "@mikro-orm/migrations";
/**
 * `spend_events.reported_by`: the `sub` of the caller that reported each event (the ad server's
 * identity), so a disputed figure can be traced to its source. Events stored before have ''
 * (unknown), as events reported with authentication off.
 */
export class Migration0009SpendReporter extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table spend_events add column reported_by text not null default ''");
  }
  override async down(): Promise<void> {
    this.addSql("alter table spend_events drop column if exists reported_by");
  }
}
