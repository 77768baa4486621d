export { startBudgetApp, type BudgetApp } from "./app.js";
export { readBudgetConfig, type BudgetConfig } from "./config.js";
export { BudgetServiceImpl } from "./budget-service.js";
export { routes } from "./routes.js";
