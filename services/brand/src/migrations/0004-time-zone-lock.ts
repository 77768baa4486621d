import { Migration } from "@mikro-orm/migrations";

/**
 * A brand's zone becomes final when the budget service locks it before the brand's first spend
 * (LockBrandTimeZone); UpdateBrand checks the flag under the same row lock, so a zone change and
 * a first spend can no longer interleave. Existing brands start unlocked: those with spend from
 * before are still protected by the spend check, and are locked at their next spend.
 */
export class Migration0004TimeZoneLock extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table brands add column if not exists time_zone_locked boolean not null default false");
  }

  override async down(): Promise<void> {
    this.addSql("alter table brands drop column if exists time_zone_locked");
  }
}
