import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { kPrincipal } from "./request-context.js";

/**
 * Ends every stream a caller opened when the caller's token expires, with UNAUTHENTICATED: the
 * token was checked once, at the open, and a stream that outlived it would keep delivering to a
 * holder whose right ended (a revoked ad server, a viewer whose day is over). The client watches
 * again with a fresh token; the watch RPCs are built for that (a new snapshot, then changes).
 * Calls without a principal (authentication off) are left alone.
 */
export function createStreamExpiryInterceptor(): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    const principal = req.contextValues.get(kPrincipal);
    if (!res.stream || principal === undefined) return res;
    return { ...res, message: untilExpiry(res.message, principal.expiresAt) } satisfies StreamResponse;
  };
}

/**
 * `messages` until `expiresAt` (ms since the epoch), then an UNAUTHENTICATED error. The handler's
 * generator is told to return then, so its `finally` blocks run (subscriptions close); one that
 * is waiting for its next message is released by the call's signal, which ends with the call.
 */
async function* untilExpiry<T>(messages: AsyncIterable<T>, expiresAt: number): AsyncGenerator<T> {
  const it = messages[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new ConnectError("the token expired: watch again with a fresh token", Code.Unauthenticated)),
      // setTimeout fires at once for a delay past its 2^31-1 ms limit: a token lives a day at most.
      Math.max(0, expiresAt - Date.now()),
    );
  });
  try {
    for (;;) {
      const next = await Promise.race([it.next(), expired]);
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
    // Not awaited: a handler waiting for a message returns once the call's signal releases it.
    void it.return?.().catch(() => undefined);
  }
}
