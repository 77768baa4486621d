#!/usr/bin/env node
/** `npm run migrate -w @adbudget/brand-service`: applies pending migrations, then exits. */
import { runMigrationsCli } from "@adbudget/kit";
import { readBrandConfig } from "./config.js";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";

await runMigrationsCli("brand", readBrandConfig(), { entities, migrations });
