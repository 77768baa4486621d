import { Code, ConnectError, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import { kPrincipal } from "./request-context.js";

/**
 * Ends every stream a caller opened when the caller's token expires, with UNAUTHENTICATED: the
 * token was checked once, at the open, and a stream that outlived it would keep delivering to a
 * holder whose right ended (a 3-second token watched on for good). The client watches again
 * with a fresh token; the watch RPCs are built for that (a new snapshot, then changes). Calls
 * without a principal (authentication off) are left alone.
 */
export function createStreamExpiryInterceptor(): Interceptor {
  return (next) => async (req) => {
    const res = await next(req);
    const principal = req.contextValues.get(kPrincipal);
    if (!res.stream || principal === undefined) return res;
    return { ...res, message: untilExpiry(res.message, principal.expiresAt) } satisfies StreamResponse;
  };
}

const expired = () => new ConnectError("the token expired: watch again with a fresh token", Code.Unauthenticated);

/**
 * `messages` until `expiresAt` (ms since the epoch), then an UNAUTHENTICATED error. A token
 * accepted within the verifier's clock skew may already be past it: then nothing is delivered.
 * Each message is awaited with its own expiry listener, dropped when it comes (one promise held
 * for the token's life would gather a listener per message: ~350 bytes each, for up to a day).
 * The handler's generator is told to return at the end, so its `finally` blocks run; one
 * waiting for its next message is released by the call's signal, which ends with the call.
 */
export async function* untilExpiry<T>(messages: AsyncIterable<T>, expiresAt: number): AsyncGenerator<T> {
  const it = messages[Symbol.asyncIterator]();
  let onExpiry: (() => void) | undefined;
  // setTimeout fires at once for a delay past its 2^31-1 ms limit: a token lives a day at most.
  const timer = setTimeout(() => onExpiry?.(), Math.max(0, expiresAt - Date.now()));
  // Not what keeps the process alive: a stream the server dropped must not hold it for a day.
  timer.unref();
  try {
    for (;;) {
      if (Date.now() >= expiresAt) throw expired();
      const next = await new Promise<IteratorResult<T>>((resolve, reject) => {
        onExpiry = () => reject(expired());
        it.next().then(resolve, reject);
      });
      onExpiry = undefined;
      if (next.done === true) return;
      if (Date.now() >= expiresAt) throw expired();
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
    // Not awaited: a handler waiting for a message returns once the call's signal releases it.
    void it.return?.().catch(() => undefined);
  }
}
