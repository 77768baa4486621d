import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import { allowedRoles, PUBLIC_SERVICES } from "./access-policy.js";
import type { TokenVerifier } from "./auth-tokens.js";
import { requestIdFrom } from "./interceptors.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";
import { kPrincipal } from "./request-context.js";

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{1,8192})$/;

/**
 * Authentication and role authorization of every call, as connect's request gate: it runs
 * before the request body is read, so a caller without a valid token, or without the role an RPC
 * needs, learns nothing about the request's shape and costs no parsing. grpc.health.v1 is open
 * (probes). A refused call is logged and counted here (it never reaches the interceptors).
 * The principal goes into the call's context for the brand-scope checks of the handlers.
 */
export function createAuthGate(verifier: TokenVerifier, logger: Logger, metrics?: Metrics) {
  return async (ctx: HandlerContext): Promise<void> => {
    if (PUBLIC_SERVICES.has(ctx.service.typeName)) return;
    const rpc = `${ctx.service.typeName}/${ctx.method.name}`;
    try {
      const header = ctx.requestHeader.get("authorization");
      if (header === null) throw new ConnectError('no credentials: send "authorization: Bearer <token>"', Code.Unauthenticated);
      const match = BEARER.exec(header);
      if (match === null) throw new ConnectError('malformed credentials: expected "authorization: Bearer <token>"', Code.Unauthenticated);
      const principal = await verifier.verify(match[1]!);
      if (!allowedRoles(rpc).includes(principal.role)) {
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
