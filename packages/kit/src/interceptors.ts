import { randomUUID } from "node:crypto";
import { Code, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { callTimeoutMs, withinDeadline } from "./deadlines.js";
import { toConnectError } from "./errors.js";
import type { Logger } from "./logger.js";
import { kLogger, kRequestId } from "./request-context.js";

const REQUEST_ID_HEADER = "x-request-id";
/** A caller-chosen request id is echoed only if it is short and printable. */
const SAFE_REQUEST_ID = /^[\w.:/-]{1,128}$/;

/** The caller's `x-request-id` when it is short and printable, else a new id. */
export function requestIdFrom(header: Headers): string {
  const sent = header.get(REQUEST_ID_HEADER);
  return sent !== null && SAFE_REQUEST_ID.test(sent) ? sent : randomUUID();
}

/**
 * The outermost interceptor of every service: gives the call a request id (the caller's
 * `x-request-id` or a new one, echoed in the response header), a logger carrying it, an access
 * log line, and turns whatever the handler or an inner interceptor throws into a precise gRPC
 * status. Unexpected errors are logged with their stack and answered as INTERNAL with only the
 * request id, so internals never leak to callers.
 */
export function createCallInterceptor(logger: Logger): Interceptor {
  return (next) => async (req) => {
    const requestId = requestIdFrom(req.header);
    const rpc = `${req.service.typeName}/${req.method.name}`;
    const log = logger.child({ requestId, rpc });
    req.contextValues.set(kRequestId, requestId);
    req.contextValues.set(kLogger, log);
    const started = performance.now();

    const fail = (err: unknown): never => {
      const { error, internal } = toConnectError(err, requestId);
      const ms = Math.round(performance.now() - started);
      if (internal) {
        log.error({ err, code: Code[error.code], ms }, "call failed with an internal error");
      } else {
        log.info({ code: Code[error.code], ms, error: error.rawMessage }, "call failed");
      }
      error.metadata.set(REQUEST_ID_HEADER, requestId);
      throw error;
    };

    let res;
    try {
      // Unary calls answer by their deadline (streams run until their signal ends them).
      res = await (req.stream ? next(req) : withinDeadline(next(req), callTimeoutMs(req.header)));
    } catch (err) {
      return fail(err);
    }
    res.header.set(REQUEST_ID_HEADER, requestId);
    if (!res.stream) {
      log.debug({ code: "OK", ms: Math.round(performance.now() - started) }, "call");
      return res;
    }
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
          log.debug({ code: "OK", ms: Math.round(performance.now() - started) }, "stream ended");
        } catch (err) {
          fail(err);
        }
      })(),
    } satisfies StreamResponse;
  };
}
