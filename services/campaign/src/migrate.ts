#!/usr/bin/env node
/** `npm run migrate -w @adbudget/campaign-service`: applies pending migrations, then exits. */
import { runMigrationsCli } from "@adbudget/kit";
import { readCampaignConfig } from "./config.js";
import { entities } from "./entities.js";
import { migrations } from "./migrations/index.js";

await runMigrationsCli("campaign", readCampaignConfig(), { entities: entities, migrations });
