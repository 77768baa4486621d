#!/usr/bin/env node
import { runService } from "@adbudget/kit";
import { startCampaignApp } from "./app.js";
import { readCampaignConfig } from "./config.js";

runService("campaign", async () => {
  const app = await startCampaignApp(readCampaignConfig());
  return { logger: app.logger, service: app };
});
