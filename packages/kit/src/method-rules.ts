/**
 * Who may call each RPC, read from the RPC's own descriptor: the `(adbudget.auth.v1.rule)`
 * method option (proto/adbudget/auth/v1/auth.proto), written beside the `rpc` in the service's
 * proto. Adding an RPC is adding its rule there; nothing here lists RPCs. The kit's own generic
 * rules: grpc.health.v1 is open (probes), reflection takes any valid credential (grpcurl and
 * buf curl describe the API with the caller's token), and an RPC without a rule is refused to
 * every caller (default deny).
 */
import { getOption, hasOption, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { rule } from "@adbudget/proto/adbudget/auth/v1/auth_pb.js";

/** Services callable without any credential (probes): grpc.health.v1 only. */
export const PUBLIC_SERVICES: ReadonlySet<string> = new Set(["grpc.health.v1.Health"]);

/** Services any valid credential may call, whatever its role: server reflection. */
export const ANY_CREDENTIAL_SERVICES: ReadonlySet<string> = new Set([
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
]);

/** A method's rule as the kit uses it: its roles, and the request field its quota counts ("": one unit). */
export interface MethodRule {
  readonly roles: ReadonlySet<string>;
  readonly quotaUnits: string;
}

/** Rules by method, read once (an option is decoded from the descriptor's unknown fields). */
const rules = new WeakMap<DescMethod, MethodRule>();

/** `method`'s rule: no roles when it has none (default deny). */
export function ruleOf(method: DescMethod): MethodRule {
  let found = rules.get(method);
  if (found === undefined) {
    const option = hasOption(method, rule) ? getOption(method, rule) : undefined;
    found = { roles: new Set(option?.roles ?? []), quotaUnits: option?.quotaUnits ?? "" };
    rules.set(method, found);
  }
  return found;
}

/** The roles `method`'s rule allows: none when it has no rule (default deny). */
export function allowedRoles(method: DescMethod): ReadonlySet<string> {
  return ruleOf(method).roles;
}

/** Whether a caller of `role` may call `method` of `service` (see the rules above; health aside). */
export function mayCall(role: string, service: DescService, method: DescMethod): boolean {
  return ANY_CREDENTIAL_SERVICES.has(service.typeName) || allowedRoles(method).has(role);
}

/**
 * What is wrong with the rules of `services` for a system whose tokens carry `roles`: a role no
 * token can have (a typo would quietly refuse the callers it meant), each named with its RPC.
 * Methods without a rule are listed apart: refused to everyone, which is legal but rarely meant.
 */
export function checkMethodRules(
  services: readonly DescService[],
  roles: readonly string[],
): { unknownRoles: string[]; withoutRule: string[] } {
  const known = new Set(roles);
  const unknownRoles: string[] = [];
  const withoutRule: string[] = [];
  for (const service of services) {
    if (PUBLIC_SERVICES.has(service.typeName) || ANY_CREDENTIAL_SERVICES.has(service.typeName)) continue;
    for (const method of service.methods) {
      const rpc = `${service.typeName}/${method.name}`;
      const allowed = allowedRoles(method);
      if (allowed.size === 0) withoutRule.push(rpc);
      for (const role of allowed) if (!known.has(role)) unknownRoles.push(`${rpc}: ${JSON.stringify(role)}`);
    }
  }
  return { unknownRoles, withoutRule };
}
