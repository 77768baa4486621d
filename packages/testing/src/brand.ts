import { randomBytes } from "node:crypto";
import { createClient, type Client } from "@connectrpc/connect";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, natsServers } from "@adbudget/kit";
import { createTestDatabase, type TestDatabase } from "./databases.js";
import { createTestAuth, type TestAuth } from "./auth.js";
import { NATS_URL } from "./nats.js";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { readBrandConfig, startBrandApp, type BrandApp } from "@adbudget/brand-service";

export interface BrandHarness {
  auth: TestAuth;
  app: BrandApp;
  db: TestDatabase;
  client: Client<typeof BrandService>;
  close(): Promise<void>;
}

/**
 * A brand service on a free port with its own fresh database, and a typed gRPC client talking
 * to it over a real HTTP/2 connection.
 */
export async function startBrandHarness(
  options: { env?: Record<string, string>; databaseUrl?: (db: TestDatabase) => string } = {},
): Promise<BrandHarness> {
  const db = await createTestDatabase();
  const auth = await createTestAuth();
  const tag = `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const stream = `${tag.toUpperCase()}_BRAND`;
  const config = readBrandConfig({
    EVENT_SUBJECT_PREFIX: tag,
    BRAND_STREAM: stream,
    // The brand service alone: zone changes after spend are tested with the whole system.
    BUDGET_SERVICE_URL: "none",
    BRAND_HOST: "127.0.0.1",
    BRAND_METRICS_PORT: "0",
    BRAND_PORT: "0",
    BRAND_DATABASE_URL: options.databaseUrl?.(db) ?? db.url,
    SHUTDOWN_GRACE_MS: "1000",
    ...auth.envOf("brand"),
    QUOTAS: "off",
    ...options.env,
  });
  const app = await startBrandApp(config, { logger: createLogger("brand-test", "silent"), healthIntervalMs: 200 });
  const client = createClient(BrandService, createGrpcTransport({ baseUrl: app.server.url, interceptors: auth.admin }));
  return {
    auth,
    app,
    db,
    client,
    async close() {
      await app.stop();
      await db.drop();
      const nc = await connect({ servers: natsServers(NATS_URL) });
      await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
      await nc.close();
    },
  };
}
