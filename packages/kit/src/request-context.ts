import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Principal } from "./principal.js";
import type { Logger } from "./logger.js";

/** The request id of a call: taken from `x-request-id` when the caller sent one, else new. */
export const kRequestId = createContextKey<string>("", { description: "request id" });

/** A child logger carrying the request id, rpc and peer of the call. */
export const kLogger = createContextKey<Logger | undefined>(undefined, { description: "request logger" });

/** The authenticated caller of the call (set by the auth gate; undefined when auth is disabled). */
export const kPrincipal = createContextKey<Principal | undefined>(undefined, { description: "principal" });

/**
 * The call's `authorization` header, taken off the request headers by the node adapter and kept
 * here for the auth gate: a scoped token names its ids and can be several KiB, and
 * every byte of a header value put into a fetch `Headers` is checked in JavaScript (undici's
 * ByteString conversion, ~5 ns a byte: 70 µs of a 700 µs unary call with a token of 150 ids),
 * although Node's HTTP/2 and HTTP/1 parsers validated the bytes already. Handlers never see it.
 */
export const kAuthorization = createContextKey<string | undefined>(undefined, { description: "authorization header" });

export function requestId(ctx: HandlerContext): string {
  return ctx.values.get(kRequestId);
}

/**
 * Who made a change: the caller's `sub` ("" with authentication off) and the call's request id.
 * Audit rows keep it, and events carry it, so a consumer that changes something in turn records
 * whose call caused it.
 */
export interface Actor {
  principal: string;
  requestId: string;
}

/** The actor of the call `ctx`. */
export function actorOf(ctx: HandlerContext): Actor {
  return { principal: ctx.values.get(kPrincipal)?.sub ?? "", requestId: requestId(ctx) };
}

/** The call's logger, falling back to `fallback` outside a call (unit tests). */
export function requestLogger(ctx: HandlerContext, fallback: Logger): Logger {
  return ctx.values.get(kLogger) ?? fallback;
}

/**
 * The client certificate of the call's connection, when the server asks for one (TLS_CLIENT_AUTH
 * request or require) and it was verified against TLS_CA_FILE: mutual TLS.
 */
export interface PeerCertificate {
  /** The subject's common name (the workload name in `scripts/dev-certs.sh` certificates). */
  readonly cn: string | undefined;
  readonly fingerprint256: string;
}

/** Set by the server for calls whose peer presented a verified client certificate. */
export const kPeerCertificate = createContextKey<PeerCertificate | undefined>(undefined, {
  description: "verified client certificate",
});

/** The subject CN of the caller's verified client certificate (mutual TLS), else undefined. */
export function peerIdentity(ctx: HandlerContext): string | undefined {
  return ctx.values.get(kPeerCertificate)?.cn;
}
