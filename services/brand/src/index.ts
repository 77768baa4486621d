export { startBrandApp, type BrandApp } from "./app.js";
export { readBrandConfig, type BrandConfig } from "./config.js";
export { BrandServiceImpl } from "./brand-service.js";
export { toProto } from "./brand-proto.js";
export { BrandStore } from "./brand-store.js";
export { routes } from "./routes.js";
