import { afterAll, expect, it } from "vitest";
import { createLogger, migrate, openDatabase, type MikroORM } from "@adbudget/kit";
import { createTestDatabase, type TestDatabase } from "@adbudget/testing";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";

/**
 * One truth for the schema: the brand service reads and writes through MikroORM, so its entities
 * must describe exactly the tables its migrations make. MikroORM's schema diff against a freshly
 * migrated database must find nothing to change. (The budget and campaign services write with
 * SQL and keep no entities: their migrations are their schema.)
 */
let db: TestDatabase | undefined;
let orm: MikroORM | undefined;
afterAll(async () => {
  await orm?.close();
  await db?.drop();
});

it("the entities and the migrations describe the same schema", async () => {
  db = await createTestDatabase();
  orm = await openDatabase({ url: db.url, entities, migrations, logger: createLogger("schema-test", "silent") });
  await migrate(orm, createLogger("schema-test", "silent"));
  const diff = await orm.schema.getUpdateSchemaSQL({ wrap: false });
  expect(diff.trim()).toBe("");
});
