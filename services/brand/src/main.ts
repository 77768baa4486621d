#!/usr/bin/env node
import { runService } from "@adbudget/kit";
import { startBrandApp } from "./app.js";
import { readBrandConfig } from "./config.js";

runService("brand", async () => {
  const app = await startBrandApp(readBrandConfig());
  return { logger: app.logger, service: app };
});
