/**
 * What a server serves, as a caller finds out: server reflection, which lists to each role the
 * services it may call. The tests that call every RPC (the access matrix, the production
 * configuration's run) ask every role, so a service no test knows fails them instead of being
 * skipped.
 */
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { BRAND_SCOPED_ROLES, ROLES, type Role } from "@adbudget/topology";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetClockService } from "@adbudget/proto/adbudget/budget/v1/budget_clock_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { CampaignClockService } from "@adbudget/proto/adbudget/campaign/v1/campaign_clock_service_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { Health } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "@adbudget/proto/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "@adbudget/proto/grpc/reflection/v1alpha/reflection_pb.js";

/** The product's own services, whose every RPC the tests call. */
export const PRODUCT_SERVICES: readonly DescService[] = [
  BrandService,
  BudgetService,
  BudgetClockService,
  CampaignService,
  CampaignClockService,
];

/** Every service a server may serve, by name: the product's, health and reflection. */
export const SERVABLE_SERVICES: ReadonlyMap<string, DescService> = new Map(
  [...PRODUCT_SERVICES, ReflectionV1, ReflectionV1alpha, Health].map((service) => [service.typeName, service]),
);

/** The services the server behind `transport` lists to its caller (one reflection request). */
export async function listedServices(transport: Transport): Promise<string[]> {
  const ask = (async function* () {
    yield { messageRequest: { case: "listServices" as const, value: "" } };
  })();
  const names: string[] = [];
  for await (const m of createClient(ReflectionV1, transport).serverReflectionInfo(ask))
    if (m.messageResponse.case === "listServicesResponse")
      names.push(...m.messageResponse.value.service.map((s) => s.name));
  return names;
}

/**
 * Every service a server lists to any role: what it serves. `transportAs` reaches it as a caller
 * of the role with these claims (a role that must name brands names one: what it is shown does
 * not depend on which).
 */
export async function announcedServices(
  transportAs: (claims: { sub: string; role: Role; brands?: string[] }) => Promise<Transport>,
): Promise<string[]> {
  const names = new Set<string>();
  for (const role of ROLES) {
    const brands = BRAND_SCOPED_ROLES.has(role) ? { brands: ["01900000-0000-7000-8000-0000000000aa"] } : {};
    for (const name of await listedServices(await transportAs({ sub: `test:${role}`, role, ...brands })))
      names.add(name);
  }
  return [...names];
}
