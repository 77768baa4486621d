export { startCampaignApp, type CampaignApp } from "./app.js";
export { readCampaignConfig, type CampaignConfig } from "./config.js";
export { CampaignServiceImpl } from "./campaign-service.js";
export { CampaignClockServiceImpl } from "./campaign-clock-service.js";
export { servingState } from "./serving-state.js";
export { applyBudgetSignal, exhaustedNow } from "./budget-flags.js";
export { routes } from "./routes.js";
