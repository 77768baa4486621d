#!/usr/bin/env node
/** `npm run migrate -w @adbudget/campaign-service`: applies pending migrations, then exits. */
import { createLogger, migrate, openDatabase } from "@adbudget/kit";
import { readCampaignConfig } from "./config.js";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";

const config = readCampaignConfig();
const logger = createLogger("campaign-migrate", config.logLevel);
const orm = await openDatabase({ url: config.databaseUrl, entities, migrations, logger });
try {
  const applied = await migrate(orm, logger);
  logger.info({ applied: applied.length }, "database is up to date");
} finally {
  await orm.close();
}
