export { startBrandApp, type BrandApp } from "./app.js";
export { readBrandConfig, type BrandConfig } from "./config.js";
export { BrandServiceImpl, toProto } from "./brand-service.js";
export { BrandStore } from "./brand-store.js";
export { routes } from "./routes.js";
