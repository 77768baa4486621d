#!/usr/bin/env node
/** `npm run migrate -w @adbudget/brand-service`: applies pending migrations, then exits. */
import { createLogger, migrate, openDatabase } from "@adbudget/kit";
import { readBrandConfig } from "./config.js";
import { BrandEntity, OutboxEntity } from "./entities.js";
import { migrations } from "./migrations/index.js";

const config = readBrandConfig();
const logger = createLogger("brand-migrate", config.logLevel);
const orm = await openDatabase({ url: config.databaseUrl, entities: [BrandEntity, OutboxEntity], migrations, logger });
try {
  const applied = await migrate(orm, logger);
  logger.info({ applied: applied.length }, "database is up to date");
} finally {
  await orm.close();
}
