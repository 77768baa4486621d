#!/usr/bin/env node
import { runService } from "@adbudget/kit";
import { startBudgetApp } from "./app.js";
import { readBudgetConfig } from "./config.js";

runService("budget", async () => {
  const app = await startBudgetApp(readBudgetConfig());
  return { logger: app.logger, service: app };
});
