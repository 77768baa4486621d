#!/usr/bin/env node
/** `npm run migrate -w @adbudget/budget-service`: applies pending migrations, then exits. */
import { runMigrationsCli } from "@adbudget/kit";
import { readBudgetConfig } from "./config.js";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";

await runMigrationsCli("budget", readBudgetConfig(), { entities: entities, migrations });
