#!/usr/bin/env node
/** `npm run migrate -w @adbudget/brand-service`: applies pending migrations, then exits. */
import { runMigrationsCli } from "@adbudget/kit";
import { readBrandConfig } from "./config.js";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";

// Migrating serves no calls and makes none: no keys needed (the migrate Job mounts none), and
// it listens nowhere (a loopback host: no TLS or NATS user is asked of it).
await runMigrationsCli("brand", readBrandConfig({ ...process.env, AUTH_DISABLED: "true", BRAND_HOST: "127.0.0.1" }), {
  entities,
  migrations,
});
