export { startWorker, WORKFLOWS_PATH, type RunningWorker } from "./worker.js";
export { readWorkerConfig, type WorkerConfig } from "./config.js";
export { ClockWorkflows, BrandIdKey, CampaignIdKey } from "./client.js";
export { createActivities, reconcileBrand, type Activities } from "./activities.js";
export * from "./shared.js";
