import { Migration } from "@mikro-orm/migrations";
import { OUTBOX_DDL } from "@adbudget/kit";

/** The outbox of brand events (BrandChangedEvent), published by the relay. */
export class Migration0002Outbox extends Migration {
  override async up(): Promise<void> {
    for (const sql of OUTBOX_DDL) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists outbox");
  }
}
