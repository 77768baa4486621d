import { Migration } from "@mikro-orm/migrations";

/**
 * Cap flags per brand day (cap-flags.ts). One flag per campaign (`cap_day`, `cap_exhausted`,
 * `cap_seq`: the last cap event) let an event of tomorrow (spend dated a few minutes ahead that
 * reached tomorrow's cap) hide today's own crossing when it arrived after it: the later day won,
 * today's event was older and ignored, and the campaign served on past its cap. `cap_flags` keeps
 * each day's flag (`{"2026-12-01": {"exhausted": true, "seq": "42"}}`, a few days at most: older
 * ones are pruned) and the serving rule reads the brand's current day's. The stored flag moves
 * over. Run it with every replica on this version: a replica of the previous one reads the
 * columns it drops.
 */
export class Migration0007CapFlagsPerDay extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table campaigns add column cap_flags jsonb not null default '{}'");
    this
      .addSql(`update campaigns set cap_flags = jsonb_build_object(cap_day::text, jsonb_build_object('exhausted', cap_exhausted, 'seq', cap_seq::text))
                 where cap_day is not null`);
    this.addSql("alter table campaigns drop column cap_day, drop column cap_exhausted, drop column cap_seq");
  }

  override async down(): Promise<void> {
    this.addSql(
      "alter table campaigns add column cap_day date, add column cap_exhausted boolean not null default false, add column cap_seq bigint not null default 0",
    );
    this.addSql("alter table campaigns drop column if exists cap_flags");
  }
}
