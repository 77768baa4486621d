import type { ConnectRouter } from "@connectrpc/connect";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import type { BrandServiceImpl } from "./brand-service.js";

/** Registers BrandService on a router (a server, or createRouterTransport in tests). */
export function routes(router: ConnectRouter, impl: BrandServiceImpl): void {
  router.service(BrandService, impl);
}
