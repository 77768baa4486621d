import { createContextKey, type HandlerContext } from "@connectrpc/connect";
import type { Logger } from "./logger.js";

/** The request id of a call: taken from `x-request-id` when the caller sent one, else new. */
export const kRequestId = createContextKey<string>("", { description: "request id" });

/** A child logger carrying the request id, rpc and peer of the call. */
export const kLogger = createContextKey<Logger | undefined>(undefined, { description: "request logger" });

/** The authenticated principal of the call, once authentication is configured. */
export const kPrincipal = createContextKey<string | undefined>(undefined, { description: "principal" });

export function requestId(ctx: HandlerContext): string {
  return ctx.values.get(kRequestId);
}

/** The call's logger, falling back to `fallback` outside a call (unit tests). */
export function requestLogger(ctx: HandlerContext, fallback: Logger): Logger {
  return ctx.values.get(kLogger) ?? fallback;
}
