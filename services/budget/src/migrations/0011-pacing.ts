import { Migration } from "@mikro-orm/migrations";

/**
 * Pacing (pacing-loop.ts). `budgets.pacing_mode` (1 paced, 2 accelerated): budgets set before
 * pacing existed stay accelerated, as they were spent until now; a new budget is paced (the
 * column's default). The audit records the mode before and after each SetBudget (null: recorded
 * before modes were). `pacing_memory` is the controller's memory of each paced campaign (its
 * spend baseline, the throttle ad servers had since, its demand estimate); `pacing_published` is
 * the throttle each campaign's ad servers were last told, for which local day; `pacing_ticks`
 * counts the ticks (the memory of a campaign observes only against the tick before).
 */
export class Migration0011Pacing extends Migration {
  override async up(): Promise<void> {
    this.addSql("alter table budgets add column pacing_mode smallint not null default 2");
    this.addSql("alter table budgets alter column pacing_mode set default 1");
    this.addSql("alter table budgets add constraint budgets_pacing_mode_check check (pacing_mode in (1, 2))");
    this.addSql("alter table budget_changes add column old_pacing_mode smallint null");
    this.addSql("alter table budget_changes add column new_pacing_mode smallint null");
    this.addSql(`
      create table pacing_memory (
        scope_id uuid primary key,
        brand_id uuid not null,
        day date not null,
        at timestamptz not null,
        spent_micros bigint not null,
        applied double precision not null,
        demand double precision null,
        tick bigint not null
      )`);
    this.addSql(`
      create table pacing_published (
        campaign_id uuid primary key,
        brand_id uuid not null,
        day date not null,
        throttle double precision not null,
        published_at timestamptz not null
      )`);
    this.addSql("create index pacing_published_brand_idx on pacing_published (brand_id)");
    this.addSql("create table pacing_ticks (id smallint primary key check (id = 1), n bigint not null)");
  }
  override async down(): Promise<void> {
    this.addSql("drop table if exists pacing_ticks");
    this.addSql("drop table if exists pacing_published");
    this.addSql("drop table if exists pacing_memory");
    this.addSql("alter table budget_changes drop column if exists old_pacing_mode");
    this.addSql("alter table budget_changes drop column if exists new_pacing_mode");
    this.addSql("alter table budgets drop column if exists pacing_mode");
  }
}
