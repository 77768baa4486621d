import {
  createLogger,
  databaseProbe,
  migrate,
  openDatabase,
  startServer,
  type Logger,
  type RunningServer,
} from "@adbudget/kit";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BrandServiceImpl } from "./brand-service.js";
import { BrandStore } from "./brand-store.js";
import type { BrandConfig } from "./config.js";
import { BrandEntity } from "./entities.js";
import { migrations } from "./migrations/index.js";
import { routes } from "./routes.js";

export interface BrandApp {
  readonly server: RunningServer;
  readonly logger: Logger;
  stop(): Promise<void>;
}

/**
 * Wires the brand service: database (migrated unless disabled), store, implementation and the
 * shared server. Used by main.ts and, with a test database and port 0, by the tests.
 */
export async function startBrandApp(
  config: BrandConfig,
  options: { logger?: Logger; healthIntervalMs?: number } = {},
): Promise<BrandApp> {
  const logger = options.logger ?? createLogger(config.name, config.logLevel);
  const orm = await openDatabase({ url: config.databaseUrl, entities: [BrandEntity], migrations, logger });
  try {
    if (config.migrateOnStart) await migrate(orm, logger);
    const impl = new BrandServiceImpl({ store: new BrandStore(orm), logger });
    const server = await startServer({
      name: config.name,
      host: config.host,
      port: config.port,
      logger,
      services: [BrandService],
      routes: (router) => routes(router, impl),
      probes: { database: databaseProbe(orm) },
      shutdownGraceMs: config.shutdownGraceMs,
      healthIntervalMs: options.healthIntervalMs,
      tls: config.tlsCertFile ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile } : undefined,
    });
    return {
      server,
      logger,
      async stop() {
        await server.close();
        await orm.close();
      },
    };
  } catch (err) {
    await orm.close();
    throw err;
  }
}
