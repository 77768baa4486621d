import { Migration } from "@mikro-orm/migrations";

/**
 * When the campaign's daypart state next flips (Campaign.next_change_time): computed by the
 * service whenever the schedule or the daypart state is written (next-change.ts). Rows from
 * before are null until their clock's next write, at their next boundary at the latest.
 */
export class Migration0005NextChange extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table campaigns add column next_change_at timestamptz");
  }

  override async down(): Promise<void> {
    this.addSql("alter table campaigns drop column if exists next_change_at");
  }
}
