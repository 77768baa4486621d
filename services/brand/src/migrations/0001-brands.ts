import { Migration } from "@mikro-orm/migrations";

/** Brands: names unique, listing in id (UUIDv7 = creation) order. */
export class Migration0001Brands extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table if not exists brands (
        id uuid primary key,
        name varchar(200) not null,
        time_zone varchar(64) not null,
        currency_code char(3) not null,
        archived boolean not null default false,
        version bigint not null default 1,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        archived_at timestamptz null,
        constraint brands_name_key unique (name)
      )`);
    this.addSql(`create index if not exists brands_active_idx on brands (id) where not archived`);
  }

  override async down(): Promise<void> {
    this.addSql("drop table if exists brands");
  }
}
