#!/usr/bin/env node
/** `npm run migrate -w @adbudget/brand-service`: applies pending migrations, then exits. */
import { OutboxEntity, runMigrationsCli } from "@adbudget/kit";
import { readBrandConfig } from "./config.js";
import { BrandEntity } from "./entities.js";
import { migrations } from "./migrations/index.js";

await runMigrationsCli("brand", readBrandConfig(), { entities: [BrandEntity, OutboxEntity], migrations });
