import { MikroORM, type AnyEntity, type EntitySchema, type Options } from "@mikro-orm/postgresql";
import { Migrator, type Migration } from "@mikro-orm/migrations";
import type pg from "pg";
import type { Probe } from "./health.js";
import type { Logger } from "./logger.js";
import { pgConnection } from "./pg-pool.js";

export type { MikroORM } from "@mikro-orm/postgresql";

export interface DatabaseOptions {
  url: string;
  entities: EntitySchema<AnyEntity>[] | unknown[];
  /** The service's migrations, in order. Bundled as classes, not discovered from a folder. */
  // MikroORM's own Constructor type: its migrations take the driver and config.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  migrations: { name: string; class: new (...args: any[]) => Migration }[];
  logger: Logger;
  /** Largest number of pooled connections. */
  poolMax?: number;
}

/**
 * Opens a service's database with MikroORM: creates the database if it does not exist yet
 * (PostgreSQL only needs to be reachable), and keeps connection attempts short so health
 * checks and requests fail fast with UNAVAILABLE when the database is down instead of hanging.
 */
export async function openDatabase(options: DatabaseOptions): Promise<MikroORM> {
  const log = options.logger.child({ component: "db" });
  const { connectionString, stream } = pgConnection(options.url, options.logger);
  const config: Options = {
    clientUrl: connectionString,
    entities: options.entities as Options["entities"],
    extensions: [Migrator],
    ensureDatabase: true,
    // A service that reads and writes with SQL keeps no entities: MikroORM only migrates.
    discovery: { warnWhenNoEntities: false },
    pool: { min: 0, max: options.poolMax ?? 10, idleTimeoutMillis: 30_000 },
    // The stream (a multi-host URL) sends the pool's connections to the server accepting writes.
    driverOptions: stream ? { connectionTimeoutMillis: 3000, stream } : { connectionTimeoutMillis: 3000 },
    migrations: {
      migrationsList: options.migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      snapshotOnMigrate: false,
      silent: true,
    },
    debug: false,
    logger: (message) => log.debug(message),
  };
  return MikroORM.init(config);
}

/** Applies pending migrations; returns the names applied. */
export async function migrate(orm: MikroORM, logger: Logger): Promise<string[]> {
  const applied = await orm.migrator.up();
  const names = applied.map((m) => m.name);
  if (names.length > 0) logger.info({ migrations: names }, "migrations applied");
  return names;
}

/** Readiness probe: the pool the requests use answers a trivial query. */
export function poolProbe(pool: pg.Pool): Probe {
  return async () => {
    await pool.query("select 1");
    return true;
  };
}
