import { Migration } from "@mikro-orm/migrations";

/**
 * The brand's audit log (issue 22, who did what): CreateBrand, UpdateBrand and ArchiveBrand
 * recorded no caller. One row per change, written in the change's transaction.
 */
export class Migration0005BrandChanges extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists brand_changes (
        id uuid primary key,
        brand_id uuid not null,
        principal text not null,
        request_id text not null,
        action varchar(16) not null,
        changed_at timestamptz not null,
        before jsonb null,
        after jsonb not null
      )`);
    this.addSql(`create index if not exists brand_changes_brand_idx on brand_changes (brand_id, id)`);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists brand_changes");
  }
}
