import { Migration } from "@mikro-orm/migrations";

/**
 * The campaign's audit log (issue 22, who did what): an edit that did not change serving (a
 * rename, a schedule, a flight, a cap) recorded no caller. One row per change a call made,
 * written in its transaction; the campaign before and after as its API shows it (proto JSON).
 */
export class Migration0008CampaignChanges extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists campaign_changes (
        id uuid primary key,
        campaign_id uuid not null,
        brand_id uuid not null,
        principal text not null,
        request_id text not null,
        action text not null,
        changed_at timestamptz not null,
        before jsonb null,
        after jsonb not null
      )`);
    this.addSql("create index if not exists campaign_changes_campaign_idx on campaign_changes (campaign_id, id desc)");
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists campaign_changes");
  }
}
