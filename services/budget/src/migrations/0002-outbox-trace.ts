import { Migration } from "@mikro-orm/migrations";
import { OUTBOX_TRACE_DDL } from "@adbudget/kit";

/** Outbox rows keep the W3C traceparent of the change that wrote them (tracing across NATS). */
export class Migration0002OutboxTrace extends Migration {
  override async up(): Promise<void> {
    this.addSql(OUTBOX_TRACE_DDL);
  }

  override async down(): Promise<void> {
    this.addSql("alter table outbox drop column if exists trace_parent");
  }
}
