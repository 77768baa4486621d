import { Migration } from "@mikro-orm/migrations";

/** Who caused each serving-state change a call caused: the caller's token subject ("" for events). */
export class Migration0004ChangePrincipal extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table state_changes add column principal text not null default ''");
  }

  override async down(): Promise<void> {
    this.addSql("alter table state_changes drop column if exists principal");
  }
}
