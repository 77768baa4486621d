import { Migration } from "@mikro-orm/migrations";

/**
 * Lifetime budgets (Campaign.lifetime_limit_micros): the limit, and what the budget service's
 * lifetime events said of it (cap-flags.ts, LifetimeFlag): reached or not, and the sequence of the
 * event that said so, so the last one committed wins whatever order they arrive in.
 */
export class Migration0010Lifetime extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table campaigns add column lifetime_limit_micros bigint null check (lifetime_limit_micros > 0)");
    this.addSql("alter table campaigns add column lifetime_exhausted boolean not null default false");
    this.addSql("alter table campaigns add column lifetime_seq bigint not null default 0");
  }
  override async down(): Promise<void> {
    this.addSql("alter table campaigns drop column if exists lifetime_limit_micros");
    this.addSql("alter table campaigns drop column if exists lifetime_exhausted");
    this.addSql("alter table campaigns drop column if exists lifetime_seq");
  }
}
