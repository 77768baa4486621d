import { Migration } from "@mikro-orm/migrations";
import { OUTBOX_DDL } from "@adbudget/kit";

/**
 * Campaigns with their serving state; the campaign service's view of each brand (archived,
 * zone, budget flags with their periods); the audit log of serving-state changes; the outbox.
 */
export class Migration0001Campaigns extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table campaigns (
        id uuid primary key,
        brand_id uuid not null,
        name varchar(200) not null,
        enabled boolean not null,
        schedule jsonb null,
        in_daypart boolean not null default true,
        daypart_as_of timestamptz null,
        serving boolean not null,
        pause_reasons smallint[] not null,
        version bigint not null default 1,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        deleted_at timestamptz null
      )`);
    this.addSql("create index campaigns_brand_idx on campaigns (brand_id, id) where deleted_at is null");
    this.addSql("create index campaigns_live_idx on campaigns (id) where deleted_at is null");
    this.addSql(`
      create table brand_state (
        brand_id uuid primary key,
        archived boolean not null default false,
        time_zone text not null default 'UTC',
        brand_version bigint not null default 0,
        day_period date null,
        day_exhausted boolean not null default false,
        day_seq bigint not null default 0,
        month_period date null,
        month_exhausted boolean not null default false,
        month_seq bigint not null default 0,
        updated_at timestamptz not null
      )`);
    this.addSql(`
      create table state_changes (
        id uuid primary key,
        campaign_id uuid not null,
        brand_id uuid not null,
        from_serving boolean not null,
        to_serving boolean not null,
        from_reasons smallint[] not null,
        to_reasons smallint[] not null,
        cause text not null,
        source_id text not null,
        changed_at timestamptz not null
      )`);
    this.addSql("create index state_changes_campaign_idx on state_changes (campaign_id, id desc)");
    this.addSql("create index state_changes_brand_idx on state_changes (brand_id, id desc)");
    for (const sql of OUTBOX_DDL) this.addSql(sql);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists outbox, state_changes, brand_state, campaigns");
  }
}
