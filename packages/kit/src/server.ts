import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { DescFile, DescService } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext, Interceptor } from "@connectrpc/connect";
import { ErrorInfoSchema, BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { Health } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import { ServerReflection as ReflectionV1 } from "@adbudget/proto/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "@adbudget/proto/grpc/reflection/v1alpha/reflection_pb.js";
import { HealthMonitor, healthRoutes, ServingStatus, type Probe } from "./health.js";
import { createCallInterceptor } from "./interceptors.js";
import { createStreamExpiryInterceptor } from "./stream-expiry.js";
import type { Logger } from "./logger.js";
import { ANSWER_REGISTRY } from "./json-registry.js";
import { createNodeAdapter } from "./node-adapter.js";
import { loadContractDescriptors, reflectionRoutes, ReflectionIndex } from "./reflection.js";
import { mayCall, PUBLIC_SERVICES } from "./method-rules.js";
import { kPrincipal } from "./request-context.js";
import { createValidationInterceptor } from "./validation.js";
import { startMetricsServer, type Metrics } from "./metrics.js";
import { createTracingInterceptor } from "./tracing.js";
import { peerContextValues, serverTlsOptions, type ServerTls } from "./tls.js";

export interface ServerOptions {
  /** Service name for logs. */
  name: string;
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  logger: Logger;
  /** The services this server implements: announced by reflection and health. */
  services: DescService[];
  /** Registers the implementations of `services`. */
  routes: (router: ConnectRouter) => void;
  /** Readiness probes for grpc.health.v1 (for example the database). */
  probes: Record<string, Probe>;
  /**
   * Runs before a request is read (authentication and role checks: the auth gate); throws a
   * ConnectError to refuse the call. Absent: every call is let in (authentication disabled).
   */
  requestGate?: (ctx: HandlerContext) => Promise<void>;
  /** Extra interceptors, inside validation (closest to the handler). */
  interceptors?: Interceptor[];
  /** How long in-flight calls may run after close() begins. */
  shutdownGraceMs?: number;
  healthIntervalMs?: number;
  /**
   * PEM files: serve HTTP/2 over TLS (with HTTP/1.1 by ALPN) instead of plaintext; with
   * `clientAuth`, mutual TLS (the verified client's certificate is `kPeerCertificate`).
   */
  tls?: ServerTls;
  /** Prometheus metrics: counted by an interceptor, served on `metricsPort` (when set). */
  metrics?: Metrics;
  metricsPort?: number;
  /**
   * Largest request message accepted, in bytes (after decompression); a larger one is refused
   * with RESOURCE_EXHAUSTED before it is parsed. Default `DEFAULT_MAX_REQUEST_BYTES` (4 MiB).
   */
  maxRequestBytes?: number;
  /** CLOCK_OFFSET_MS in effect: logged (a warning when not 0: it is for tests and demos). */
  clockOffsetMs?: number;
}

export interface RunningServer {
  readonly port: number;
  /** Base URL for Connect clients, for example http://127.0.0.1:8080. */
  readonly url: string;
  readonly health: HealthMonitor;
  /** The bound /metrics port, when metrics are on. */
  readonly metricsPort: number | undefined;
  /** Graceful stop: NOT_SERVING, stop accepting, end streams, drain calls, then return. */
  close(): Promise<void>;
}

/**
 * Default request size limit: 4 MiB, the default maximum receive size of gRPC's own servers
 * (grpc-go, grpc-java, grpc-core), so clients written against them already stay under it. Our
 * largest legitimate request is a RecordSpendBatch of 1000 events (the API maximum): about
 * 200 KB in binary (an event is at most ~230 bytes: a 128-character id, two UUIDs, an amount and
 * a timestamp) and ~350 KB as JSON, so 4 MiB leaves ten times that. Without a limit Connect
 * accepts up to 4 GiB per message: one caller could make the process buffer, decompress (a
 * gzip bomb) and parse gigabytes, starving every other caller of memory and CPU.
 */
export const DEFAULT_MAX_REQUEST_BYTES = 4 * 1024 * 1024;

/** Error detail types callers may meet, so reflection clients can decode them. */
const DETAIL_FILES: DescFile[] = [BadRequestSchema.file, ErrorInfoSchema.file];

/**
 * Reflection as each role sees the server: the services it may call a method of (with health and
 * reflection), and only their files, so a viewer's grpcurl does not list the internal clock
 * services, nor describe them. One index per role, made on its first call: roles are the access
 * model's (the gate refuses any other), so there are a handful. Without authentication (no
 * principal) everything is listed.
 */
function reflectionByRole(services: DescService[]): (role: string | undefined) => ReflectionIndex {
  const descriptors = loadContractDescriptors();
  const all = new ReflectionIndex(services, DETAIL_FILES, descriptors);
  const byRole = new Map<string, ReflectionIndex>();
  return (role) => {
    if (role === undefined) return all;
    let index = byRole.get(role);
    if (index === undefined) {
      const visible = services.filter(
        (s) => PUBLIC_SERVICES.has(s.typeName) || s.methods.some((m) => mayCall(role, s, m)),
      );
      index = new ReflectionIndex(visible, DETAIL_FILES, descriptors);
      byRole.set(role, index);
    }
    return index;
  };
}

/**
 * Starts one service: Connect, gRPC and gRPC-Web on one port, over HTTP/2 (h2c, or TLS when
 * configured) and HTTP/1.1 (plain `curl` with a JSON body), with reflection, health, request
 * ids, validation and error mapping in front of the service's own routes.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { logger } = options;
  const health = new HealthMonitor({
    services: options.services.map((s) => s.typeName),
    probes: options.probes,
    intervalMs: options.healthIntervalMs,
    logger,
  });
  const reflection = reflectionByRole([...options.services, Health, ReflectionV1, ReflectionV1alpha]);
  const shutdown = new AbortController();

  // connectNodeAdapter, except that a binary request that does not parse is INVALID_ARGUMENT.
  const handler = createNodeAdapter({
    routes(router) {
      options.routes(router);
      healthRoutes(router, health);
      reflectionRoutes(router, (ctx) => reflection(ctx.values.get(kPrincipal)?.role));
    },
    interceptors: [
      ...(options.metrics ? [options.metrics.interceptor()] : []),
      createTracingInterceptor(options.name),
      createCallInterceptor(logger),
      createStreamExpiryInterceptor(),
      createValidationInterceptor(),
      ...(options.interceptors ?? []),
    ],
    shutdownSignal: shutdown.signal,
    // Connect JSON (and the `debug` of error details) writes an Any only when it knows the type:
    // every message an answer may hold in one (json-registry.ts). Binary needs no registry.
    // A JSON request naming a field or an enum value this server does not know is refused
    // (INVALID_ARGUMENT), not read as if it were absent: "pacingMode": "PACING_MODE_ACCELERATD"
    // left a budget paced and answered OK, and a misspelled field was dropped in silence.
    jsonOptions: { registry: ANSWER_REGISTRY, ignoreUnknownFields: false },
    // TLS: the verified client certificate of the connection (mutual TLS), for handlers.
    ...(options.tls ? { contextValues: peerContextValues } : {}),
    requestGate: options.requestGate,
    // Checked against the declared length (Content-Length, the gRPC envelope) before reading,
    // then against the bytes read and the decompressed size: RESOURCE_EXHAUSTED before any
    // parsing or interceptor. HTTP/2 connections serve on; see closeWhenBodyUnread for HTTP/1.1.
    readMaxBytes: options.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
    // Answers are not compressed (requests may be): our callers are services on the same
    // network, where gzip costs more CPU than it saves in bytes. A RecordSpendBatch answer of
    // 500 events (~125 KB) took ~3 ms of gzip per call, a fifth of the batch path's CPU.
    compressMinBytes: Number.POSITIVE_INFINITY,
  });

  const guarded = closeWhenBodyUnread(handler);
  const { server, sessions, h1 } = options.tls ? tlsServer(options.tls, guarded, logger) : plaintextServer(guarded);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as net.AddressInfo).port;
  const scheme = options.tls ? "https" : "http";
  const url = `${scheme}://${options.host === "0.0.0.0" || options.host === "::" ? "127.0.0.1" : options.host}:${port}`;
  logger.info({ port, url, services: options.services.map((s) => s.typeName) }, `${options.name} listening`);
  if (options.clockOffsetMs) {
    logger.warn(
      { clockOffsetMs: options.clockOffsetMs, now: new Date(Date.now() + options.clockOffsetMs).toISOString() },
      "CLOCK_OFFSET_MS is set: this service runs on a shifted clock (tests and demos only)",
    );
  }
  const metricsServer =
    options.metrics && options.metricsPort !== undefined
      ? await startMetricsServer(
          options.metrics,
          options.host,
          options.metricsPort,
          logger,
          async () => (await health.current()) === ServingStatus.SERVING,
        )
      : undefined;
  void health.current();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      const grace = options.shutdownGraceMs ?? 10_000;
      logger.info({ graceMs: grace }, "shutting down: NOT_SERVING, draining calls");
      health.shutdown();
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Long-lived streams (Watch) end now; unary calls get the grace period to finish.
      shutdown.abort();
      for (const s of sessions) s.close();
      // HTTP/1.1 keep-alive connections close as soon as they are idle.
      const idle = setInterval(() => h1.closeIdleConnections(), 50);
      h1.closeIdleConnections();
      const timer = setTimeout(() => {
        logger.warn({ sessions: sessions.size }, "grace period over: closing remaining connections");
        for (const s of sessions) s.destroy();
        h1.closeAllConnections();
      }, grace);
      timer.unref();
      await stopped;
      clearInterval(idle);
      clearTimeout(timer);
      h1.close(() => undefined); // stops its connection-checking timer (it never listened)
      await metricsServer?.close();
      logger.info("server stopped");
    })());

  return { port, url, health, metricsPort: metricsServer?.port, close };
}

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;
interface Listener {
  server: net.Server;
  sessions: Set<http2.ServerHttp2Session>;
  h1: http.Server;
}

/**
 * HTTP/1.1: when the answer starts before the request body was read to its end (a body over
 * the size limit is refused from its Content-Length, or as soon as the limit is passed), the
 * answer says `Connection: close` and the connection ends after it. Otherwise Node keeps the
 * connection for keep-alive with the rest of the body unread: a Node client still uploading
 * stalls until the keep-alive timeout (~6 s) and then sees a reset instead of the
 * RESOURCE_EXHAUSTED it was sent. Normal calls (body read before the answer) keep their
 * connection. HTTP/2 needs nothing: the stream ends, the connection serves on.
 */
function closeWhenBodyUnread(handler: Handler): Handler {
  return (req, res) => {
    if (req.httpVersionMajor === 1) {
      const h1res = res as http.ServerResponse;
      const writeHead = h1res.writeHead.bind(h1res) as (...a: unknown[]) => http.ServerResponse;
      h1res.writeHead = (...args: unknown[]) => {
        if (!req.complete) h1res.shouldKeepAlive = false;
        return writeHead(...args);
      };
    }
    handler(req, res);
  };
}

/** HTTP/2 connection preface: what every h2c (prior knowledge) client sends first. */
const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n");

/**
 * Plaintext HTTP/2 and HTTP/1.1 on one port. Node's h2c server cannot fall back to HTTP/1.1
 * (that needs TLS ALPN), so the first bytes of each connection decide: the HTTP/2 preface goes
 * to the HTTP/2 server (gRPC, grpcurl, Connect over h2), anything else to an HTTP/1.1 server
 * (curl with a JSON body, gRPC-Web from browsers).
 */
function plaintextServer(handler: Handler): Listener {
  const h2 = http2.createServer({}, handler as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const h1 = http.createServer(handler as http.RequestListener);
  // `h1` never listens (connections are handed to it), and Node starts an HTTP server's
  // connection tracking on "listening": without it headersTimeout / requestTimeout are not
  // enforced (a client trickling headers holds its connection forever) and
  // closeIdleConnections / closeAllConnections do nothing (close() would wait for clients).
  h1.emit("listening");
  const sessions = trackSessions(h2);
  // No Nagle: small gRPC frames must not wait for the peer's delayed ACK (~40 ms each).
  const server = net.createServer({ noDelay: true, keepAlive: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    // Paused mode (read/unshift, never "data"): the HTTP/2 session adopts the socket's native
    // handle and replays what is buffered, which flowing mode would have lost.
    let head = Buffer.alloc(0);
    // A connection that does not say which protocol it speaks within 10 s is dropped.
    socket.setTimeout(10_000, () => socket.destroy());
    const onReadable = () => {
      for (
        let chunk: Buffer | null = socket.read() as Buffer | null;
        chunk !== null;
        chunk = socket.read() as Buffer | null
      )
        head = Buffer.concat([head, chunk]);
      const n = Math.min(head.length, H2_PREFACE.length);
      if (head.length < H2_PREFACE.length && head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return;
      socket.setTimeout(0);
      socket.removeAllListeners("timeout");
      socket.off("readable", onReadable);
      socket.unshift(head);
      (head.subarray(0, H2_PREFACE.length).equals(H2_PREFACE) ? h2 : h1).emit("connection", socket);
    };
    socket.on("readable", onReadable);
  });
  return { server, sessions, h1 };
}

/**
 * HTTP/2 over TLS, with HTTP/1.1 negotiated by ALPN for clients that want it. With
 * `clientAuth: "require"`, a client without a certificate signed by `caFile` fails the handshake.
 */
function tlsServer(tls: ServerTls, handler: Handler, logger: Logger): Listener {
  const server = http2.createSecureServer({ ...serverTlsOptions(tls), allowHTTP1: true }, handler);
  server.on("tlsClientError", (err: Error & { code?: string }, socket: { remoteAddress?: string }) => {
    logger.debug({ code: err.code, error: err.message, remote: socket.remoteAddress }, "TLS handshake refused");
  });
  // With TLS, HTTP/1.1 connections are served by the same server; nothing else to drain.
  const h1 = http.createServer();
  return { server, sessions: trackSessions(server), h1 };
}

function trackSessions(server: http2.Http2Server | http2.Http2SecureServer): Set<http2.ServerHttp2Session> {
  const sessions = new Set<http2.ServerHttp2Session>();
  server.on("session", (s: http2.ServerHttp2Session) => {
    sessions.add(s);
    s.once("close", () => sessions.delete(s));
  });
  return sessions;
}
