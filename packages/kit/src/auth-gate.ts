import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { TokenVerifier } from "./auth-tokens.js";
import { requestIdFrom } from "./interceptors.js";
import type { Logger } from "./logger.js";
import { mayCall, PUBLIC_SERVICES } from "./method-rules.js";
import type { Metrics } from "./metrics.js";
import type { Principal } from "./principal.js";
import { kAuthorization, kPrincipal, peerIdentity } from "./request-context.js";
import { MAX_TOKEN_CHARS } from "./token-rules.js";

/**
 * Authentication and role authorization of every call, as connect's request gate: it runs
 * before the request body is read, so a caller without a valid token, or without a role the
 * RPC's rule names (method-rules.ts: the option beside the RPC in its proto), learns nothing
 * about the request's shape and costs no parsing. grpc.health.v1 is open (probes). A refused
 * call is logged and counted here (it never reaches the interceptors). The principal goes into
 * the call's context for the handlers' scope checks.
 *
 * `workloadCertificates` (given when the server asks for client certificates): a token of a
 * workload's role is accepted only on a connection that presented that workload's certificate.
 */
export function createAuthGate(
  verifier: TokenVerifier,
  logger: Logger,
  metrics?: Metrics,
  workloadCertificates?: Readonly<Record<string, string>>,
) {
  return async (ctx: HandlerContext): Promise<void> => {
    if (PUBLIC_SERVICES.has(ctx.service.typeName)) return;
    const rpc = `${ctx.service.typeName}/${ctx.method.name}`;
    try {
      const header = ctx.values.get(kAuthorization) ?? ctx.requestHeader.get("authorization");
      if (header === null)
        throw new ConnectError('no credentials: send "authorization: Bearer <token>"', Code.Unauthenticated);
      // A prefix and a length check: the token's shape is the verifier's (token-rules.ts).
      if (!header.startsWith("Bearer ") || header.length > MAX_TOKEN_CHARS + 7) {
        throw new ConnectError('malformed credentials: expected "authorization: Bearer <token>"', Code.Unauthenticated);
      }
      const principal = await verifier.verify(header.slice(7));
      if (workloadCertificates) assertCertificate(ctx, principal, workloadCertificates);
      if (!mayCall(principal.role, ctx.service, ctx.method)) {
        throw new ConnectError(`the role ${principal.role} may not call ${rpc}`, Code.PermissionDenied);
      }
      ctx.values.set(kPrincipal, principal);
    } catch (err) {
      const error = ConnectError.from(err, Code.Unauthenticated);
      const requestId = requestIdFrom(ctx.requestHeader);
      ctx.responseHeader.set("x-request-id", requestId);
      logger.info({ rpc, requestId, code: Code[error.code], error: error.rawMessage }, "call refused");
      metrics?.count(rpc, error.code);
      throw error;
    }
  };
}

/** Refuses a workload's token on a connection without that workload's client certificate. */
function assertCertificate(ctx: HandlerContext, principal: Principal, names: Readonly<Record<string, string>>): void {
  if (!Object.hasOwn(names, principal.role)) return;
  const expected = names[principal.role];
  const presented = peerIdentity(ctx);
  if (presented !== expected)
    throw new ConnectError(
      `a ${principal.role} token must arrive with the client certificate of ${expected} (mutual TLS), not ${presented === undefined ? "none" : JSON.stringify(presented)}`,
      Code.Unauthenticated,
    );
}
