import { openDatabase, migrate, type DatabaseOptions } from "./db.js";
import { createLogger } from "./logger.js";

/**
 * The body of every service's `migrate` command: open its database (created if missing), apply
 * pending migrations, report, exit.
 */
export async function runMigrationsCli(
  name: string,
  config: { databaseUrl: string; logLevel: string },
  schema: Pick<DatabaseOptions, "entities" | "migrations">,
): Promise<void> {
  const logger = createLogger(`${name}-migrate`, config.logLevel);
  const orm = await openDatabase({ url: config.databaseUrl, ...schema, logger });
  try {
    const applied = await migrate(orm, logger);
    logger.info({ applied: applied.length }, "database is up to date");
  } finally {
    await orm.close();
  }
}
