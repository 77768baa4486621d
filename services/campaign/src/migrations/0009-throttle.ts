import { Migration } from "@mikro-orm/migrations";

/**
 * The pacing throttle each campaign's ad servers apply (Campaign.throttle), as the budget service's
 * CampaignThrottleEvents set it: its value, the brand day it is for, until when it holds (that
 * day's end), and the event's sequence, so the last one committed wins whatever order they
 * arrive in (throttle.ts). 1 until paced.
 */
export class Migration0009Throttle extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table campaigns add column throttle double precision not null default 1");
    this.addSql("alter table campaigns add column throttle_day date null");
    this.addSql("alter table campaigns add column throttle_seq bigint not null default 0");
    this.addSql("alter table campaigns add column throttle_until timestamptz null");
    this.addSql(
      "alter table campaigns add constraint campaigns_throttle_check check (throttle >= 0 and throttle <= 1)",
    );
  }
  override async down(): Promise<void> {
    this.addSql("alter table campaigns drop column if exists throttle");
    this.addSql("alter table campaigns drop column if exists throttle_day");
    this.addSql("alter table campaigns drop column if exists throttle_seq");
    this.addSql("alter table campaigns drop column if exists throttle_until");
  }
}
