import { Code, ConnectError, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { JitterBackoff, sleep } from "./backoff.js";
import { TokenCache, type TokenSource } from "./tokens.js";

/** Options of a transport to one adbudget service. */
export interface TransportOptions {
  /** The service's address, `http://host:port` (h2c) or `https://host:port` (TLS). */
  baseUrl: string;
  /** Where the bearer tokens come from (or a TokenCache shared by several transports). */
  tokens: TokenSource | TokenCache;
  /** Deadline of a unary call, retries included (default 5 s: a budget answer is milliseconds). */
  timeoutMs?: number;
  /** Attempts of an idempotent call that gets UNAVAILABLE (default 5: ~3 s of backoff in all). */
  attempts?: number;
  /** PEM trust roots and, for mutual TLS, the client's certificate and key. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  /** Interceptors run inside the SDK's (tracing, logging). */
  interceptors?: Interceptor[];
}

/**
 * HTTP/2 pings: a connection that died without a FIN (a cut cable, a frozen peer) is found
 * within 15 s (one idle interval, then the ping's timeout) instead of waiting for TCP's minutes.
 */
const PING_INTERVAL_MS = 10_000;
const PING_TIMEOUT_MS = 5_000;
/** Backoff between attempts of an idempotent call: 100 ms doubling, at most 5 s (docs/sdk.md); the deadline bounds the sum. */
const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 5_000;

/**
 * Sends `authorization: Bearer <token>` from the cache; a unary call refused with
 * UNAUTHENTICATED (the token expired or was rotated) is sent once more with a fresh token: the
 * server refused it before running it, so even a call with side effects may go again.
 */
export function bearerInterceptor(tokens: TokenCache): Interceptor {
  return (next) => async (req) => {
    const token = await tokens.get();
    req.header.set("authorization", `Bearer ${token}`);
    if (req.stream) return next(req);
    try {
      return await next(req);
    } catch (err) {
      if (ConnectError.from(err).code !== Code.Unauthenticated) throw err;
      tokens.invalidate(token);
      req.header.set("authorization", `Bearer ${await tokens.get()}`);
      return next(req);
    }
  };
}

/**
 * Retries a unary call the proto declares idempotent (NO_SIDE_EFFECTS or IDEMPOTENT) when it
 * gets UNAVAILABLE: nothing ran, or running it again changes nothing. Other calls and codes go
 * to the caller at once. Every attempt lives inside the call's one deadline.
 */
export function retryInterceptor(attempts: number): Interceptor {
  return (next) => async (req) => {
    const idempotent = req.method.idempotency !== MethodOptions_IdempotencyLevel.IDEMPOTENCY_UNKNOWN;
    if (req.stream || !idempotent) return next(req);
    const backoff = new JitterBackoff(RETRY_MIN_MS, RETRY_MAX_MS);
    for (let attempt = 1; ; attempt++) {
      try {
        return await next(req);
      } catch (err) {
        if (attempt >= attempts || ConnectError.from(err).code !== Code.Unavailable || req.signal.aborted) throw err;
        await sleep(backoff.next(), req.signal);
        if (req.signal.aborted) throw err;
      }
    }
  };
}

/** A gRPC transport to one service with tokens, a deadline, retries and keepalive pings. */
export function createAdbudgetTransport(options: TransportOptions): Transport {
  const tokens = options.tokens instanceof TokenCache ? options.tokens : new TokenCache(options.tokens);
  const { tls } = options;
  return createGrpcTransport({
    baseUrl: options.baseUrl,
    defaultTimeoutMs: options.timeoutMs ?? 5_000,
    pingIntervalMs: PING_INTERVAL_MS,
    pingTimeoutMs: PING_TIMEOUT_MS,
    interceptors: [bearerInterceptor(tokens), retryInterceptor(options.attempts ?? 5), ...(options.interceptors ?? [])],
    ...(tls === undefined ? {} : { nodeOptions: { ca: tls.ca, cert: tls.cert, key: tls.key } }),
  });
}
