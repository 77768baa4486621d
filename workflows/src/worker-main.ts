#!/usr/bin/env node
import { runService } from "@adbudget/kit";
import { readWorkerConfig } from "./config.js";
import { startWorker } from "./worker.js";

runService("clocks", async () => {
  const w = await startWorker(readWorkerConfig());
  return { logger: w.logger, service: w };
});
