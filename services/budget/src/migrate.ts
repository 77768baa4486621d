#!/usr/bin/env node
/** `npm run migrate -w @adbudget/budget-service`: applies pending migrations, then exits. No ORM entities: the migrations are the schema. */
import { runMigrationsCli } from "@adbudget/kit";
import { readBudgetConfig } from "./config.js";
import { migrations } from "./migrations/index.js";

// Migrating serves no calls and makes none: no keys needed (the migrate Job mounts none), and
// it listens nowhere (a loopback host: no TLS or NATS user is asked of it).
await runMigrationsCli(
  "budget",
  readBudgetConfig({ ...process.env, AUTH_DISABLED: "true", BUDGET_HOST: "127.0.0.1" }),
  {
    entities: [],
    migrations,
  },
);
