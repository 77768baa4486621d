import {
  Code,
  ConnectError,
  createConnectRouter,
  createContextKey,
  createContextValues,
  type ConnectRouter,
  type Interceptor,
} from "@connectrpc/connect";
import {
  compressionBrotli,
  compressionGzip,
  universalRequestFromNodeRequest,
  universalResponseToNodeResponse,
  type ConnectNodeAdapterOptions,
  type connectNodeAdapter,
} from "@connectrpc/connect-node";
import {
  compressedFlag,
  encodeEnvelope,
  uResponseNotFound,
  type Compression,
  type UniversalHandler,
  type UniversalServerResponse,
} from "@connectrpc/connect/protocol";
import { codeToHttpStatus, codeToString, endStreamFlag } from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { trailerFlag, trailerParse, trailerSerialize } from "@connectrpc/connect/protocol-grpc-web";
import { kAuthorization } from "./request-context.js";

/** A Node request listener for `http` and `http2` servers (what connectNodeAdapter returns). */
export type NodeHandler = ReturnType<typeof connectNodeAdapter>;

/** The options of connectNodeAdapter: this adapter takes and honours all of them. */
export type NodeAdapterOptions = ConnectNodeAdapterOptions;

/**
 * Our replacement for `connectNodeAdapter` (@connectrpc/connect-node 2.2.0): the same router,
 * path table, 404 fallback, default compressions (gzip, brotli) and request/response plumbing
 * (`universalRequestFromNodeRequest` / `universalResponseToNodeResponse`), with one difference:
 * a request whose binary protobuf body cannot be parsed is answered INVALID_ARGUMENT.
 *
 * Why it exists: Connect parses binary requests with `fromBinary` and reports any failure
 * (truncated message, illegal tag or wire type, invalid UTF-8 in a string) as
 * `ConnectError("parse binary: <reason>", Code.Internal)`. For unary methods this happens before
 * any interceptor runs, and no public option reaches the serialization, so the caller's garbage
 * would come back as INTERNAL, which in our services only ever means a bug of ours. (JSON parse
 * failures are already INVALID_ARGUMENT.)
 *
 * How: every call carries a small state in its context values, and an outermost interceptor
 * marks it when the call reaches the interceptor chain.
 * - Streaming requests (server-, client-, bidi-streaming): their messages are parsed while the
 *   chain reads them, so that interceptor converts the error where it is thrown, and the inner
 *   interceptors (logs, metrics) already see INVALID_ARGUMENT.
 * - Calls that never reached the chain (a unary request that did not parse) are answered from
 *   what Connect serialized, rewritten per protocol:
 *   - gRPC: `grpc-status: 13` with a percent-encoded `grpc-message: parse binary: ...`, in the
 *     HTTP/2 trailers (filled when the body ends) or in the headers (trailers-only);
 *   - gRPC-Web: the same fields inside the trailer envelope (flag 0x80) that ends the body;
 *   - Connect unary: HTTP 500 with `{"code":"internal","message":"parse binary: ..."}` becomes
 *     Connect's status for invalid_argument (400) with that code;
 *   - Connect streaming: the error of the end-stream envelope (flag 0x02).
 * Only an INTERNAL whose message starts with "parse binary" and that carries no details is
 * rewritten, and only for calls that never reached the chain: a response that could not be
 * serialized ("serialize binary") or anything a handler throws (for example a client of another
 * service failing to parse its answer) stays INTERNAL. Successful calls always reach the chain,
 * so their responses are handed to Node untouched: nothing is wrapped, buffered or inspected.
 *
 * `contextValues`, when given, must return a new ContextValues for each request (as Connect
 * expects): the call state is stored in it.
 */
export function createNodeAdapter(options: NodeAdapterOptions): NodeHandler {
  const acceptCompression = options.acceptCompression ?? [compressionGzip, compressionBrotli];
  const inner = createConnectRouter({
    ...options,
    acceptCompression,
    interceptors: withMarker(options.interceptors),
  });
  // Per-service or per-method options replace the router's interceptors: keep ours outermost.
  const router: ConnectRouter = {
    handlers: inner.handlers,
    service(service, implementation, opt) {
      inner.service(service, implementation, withMarkerOptions(opt));
      return this;
    },
    rpc(method, impl, opt) {
      inner.rpc(method, impl, withMarkerOptions(opt));
      return this;
    },
  };
  options.routes(router);
  const prefix = options.requestPathPrefix ?? "";
  const paths = new Map<string, UniversalHandler>();
  for (const uHandler of inner.handlers) {
    paths.set(prefix + uHandler.requestPath, uHandler);
  }
  const fallback = options.fallback ?? notFound;

  return function nodeRequestHandler(req, res) {
    // Strip the query parameter when matching paths.
    const uHandler = paths.get(req.url?.split("?", 2)[0] ?? "");
    if (!uHandler) {
      fallback(req, res);
      return;
    }
    const values = options.contextValues?.(req) ?? createContextValues();
    const call: CallState = { entered: false };
    values.set(kCallState, call);
    // The bearer token goes to the call's context, not into the fetch Headers (see kAuthorization).
    const authorization = req.headers.authorization;
    if (typeof authorization === "string") {
      values.set(kAuthorization, authorization);
      delete req.headers.authorization;
    }
    const uReq = universalRequestFromNodeRequest(req, res, undefined, values);
    uHandler(uReq)
      .then(async (uRes) => {
        const answer = call.entered
          ? uRes
          : await reportRequestParseError(uRes, uHandler.method.input.typeName, acceptCompression);
        return universalResponseToNodeResponse(answer, res);
      })
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code == Code.Aborted) {
          return;
        }
        console.error(`handler for rpc ${uHandler.method.name} of ${uHandler.service.typeName} failed`, reason);
      });
  };
}

const notFound: NodeHandler = (_req, res) => {
  res.writeHead(uResponseNotFound.status);
  res.end();
};

interface CallState {
  /** The call reached the interceptor chain (its request, if unary, was parsed). */
  entered: boolean;
}

const kCallState = createContextKey<CallState | undefined>(undefined, { description: "node adapter call state" });

/**
 * Outermost interceptor: marks the call as having reached the chain, and turns a parse failure
 * of a streamed request message into INVALID_ARGUMENT where it is thrown.
 */
const markAndConvert: Interceptor = (next) => (req) => {
  const call = req.contextValues.get(kCallState);
  if (call) call.entered = true;
  if (!req.stream) return next(req);
  const messages = req.message;
  const typeName = req.method.input.typeName;
  return next({
    ...req,
    message: (async function* () {
      try {
        yield* messages;
      } catch (err) {
        throw asRequestParseError(err, typeName);
      }
    })(),
  });
};

function withMarker(interceptors: Interceptor[] | undefined): Interceptor[] {
  return [markAndConvert, ...(interceptors ?? [])];
}

function withMarkerOptions<T extends { interceptors?: Interceptor[] }>(opt: T | undefined): T | undefined {
  return opt !== undefined && "interceptors" in opt ? { ...opt, interceptors: withMarker(opt.interceptors) } : opt;
}

const PARSE_BINARY = "parse binary: ";

/** The reason of Connect's request parse failure ("parse binary: <reason>"), else undefined. */
function parseFailureReason(message: string | null | undefined): string | undefined {
  return message?.startsWith(PARSE_BINARY) ? message.slice(PARSE_BINARY.length) : undefined;
}

function requestParseMessage(typeName: string, reason: string): string {
  return `the request is not a valid protobuf message of ${typeName}: ${reason}`;
}

function asRequestParseError(err: unknown, typeName: string): unknown {
  if (!(err instanceof ConnectError) || err.code !== Code.Internal || err.details.length > 0) return err;
  const reason = parseFailureReason(err.rawMessage);
  return reason === undefined
    ? err
    : new ConnectError(requestParseMessage(typeName, reason), Code.InvalidArgument, undefined, undefined, err);
}

/**
 * The answer to a call that never reached the interceptor chain: Connect's serialized error,
 * with an INTERNAL "parse binary" failure turned into INVALID_ARGUMENT. Such a call produced no
 * message, so its body is at most the final envelope (or the Connect unary error JSON).
 *
 * With Connect 2.2.0 only unary requests fail to parse before the chain; the gRPC-Web and
 * Connect end-stream rewrites also cover streaming methods in case their parsing ever moves
 * there (the interceptor converts it otherwise). Exported for tests.
 */
export async function reportRequestParseError(
  uRes: UniversalServerResponse,
  typeName: string,
  compressions: Compression[],
): Promise<UniversalServerResponse> {
  const { header, body } = uRes;
  if (header === undefined || body === undefined) return uRes;
  const contentType = header.get("content-type") ?? "";
  if (contentType.startsWith("application/grpc-web")) {
    const compression = findCompression(compressions, header.get("grpc-encoding"));
    return {
      ...uRes,
      body: mapBody(body, {
        chunk: (chunk) =>
          rewriteEndEnvelope(chunk, trailerFlag, compression, (data) => rewriteGrpcWebTrailer(data, typeName)),
      }),
    };
  }
  if (contentType.startsWith("application/grpc")) {
    // The status is set on `trailer` while the body is produced: look once it is complete, and
    // also at the headers (a trailers-only answer), before Node writes either.
    return {
      ...uRes,
      body: mapBody(body, {
        end: () => {
          rewriteGrpcStatus(header, typeName);
          if (uRes.trailer) rewriteGrpcStatus(uRes.trailer, typeName);
        },
      }),
    };
  }
  if (contentType.startsWith("application/connect+")) {
    const compression = findCompression(compressions, header.get("connect-content-encoding"));
    return {
      ...uRes,
      body: mapBody(body, {
        chunk: (chunk) =>
          rewriteEndEnvelope(chunk, endStreamFlag, compression, (data) => rewriteEndStream(data, typeName)),
      }),
    };
  }
  if (uRes.status === codeToHttpStatus(Code.Internal) && contentType.startsWith("application/json")) {
    return rewriteConnectUnary(uRes, header, body, typeName, compressions);
  }
  return uRes;
}

/** gRPC and gRPC-Web status fields; true when they were rewritten. */
function rewriteGrpcStatus(fields: Headers, typeName: string): boolean {
  if (fields.get("grpc-status") !== String(Code.Internal) || fields.has("grpc-status-details-bin")) return false;
  // Connect percent-encodes grpc-message (encodeURIComponent), as the gRPC protocol asks.
  const reason = parseFailureReason(percentDecode(fields.get("grpc-message")));
  if (reason === undefined) return false;
  setTrailerStatus(fields, new ConnectError(requestParseMessage(typeName, reason), Code.InvalidArgument));
  return true;
}

function percentDecode(value: string | null): string | undefined {
  if (value === null) return undefined;
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** The data of a gRPC-Web trailer envelope ("name: value\r\n" lines), rewritten or undefined. */
function rewriteGrpcWebTrailer(data: Uint8Array, typeName: string): Uint8Array | undefined {
  const trailer = trailerParse(data);
  return rewriteGrpcStatus(trailer, typeName) ? trailerSerialize(trailer) : undefined;
}

interface ErrorJson {
  code?: unknown;
  message?: unknown;
  details?: unknown;
}

/** A Connect error object ({code, message, details}): rewritten in place, true when it was. */
function rewriteErrorJson(error: ErrorJson | undefined, typeName: string): boolean {
  if (
    typeof error !== "object" ||
    error === null ||
    error.code !== codeToString(Code.Internal) ||
    error.details !== undefined
  ) {
    return false;
  }
  const reason = typeof error.message === "string" ? parseFailureReason(error.message) : undefined;
  if (reason === undefined) return false;
  error.code = codeToString(Code.InvalidArgument);
  error.message = requestParseMessage(typeName, reason);
  return true;
}

/** The data of a Connect end-stream envelope ({"error": ..., "metadata": ...}), rewritten or undefined. */
function rewriteEndStream(data: Uint8Array, typeName: string): Uint8Array | undefined {
  const end = parseJson(data) as { error?: ErrorJson } | undefined;
  if (typeof end !== "object" || end === null || !rewriteErrorJson(end.error, typeName)) return undefined;
  return new TextEncoder().encode(JSON.stringify(end));
}

/** Connect unary: a small error JSON body (possibly compressed) with HTTP 500. */
async function rewriteConnectUnary(
  uRes: UniversalServerResponse,
  header: Headers,
  body: AsyncIterable<Uint8Array>,
  typeName: string,
  compressions: Compression[],
): Promise<UniversalServerResponse> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  const unchanged = { ...uRes, body: iterableOf(chunks) };
  const encoding = header.get("content-encoding");
  let bytes: Uint8Array = Buffer.concat(chunks);
  if (encoding !== null) {
    const compression = findCompression(compressions, encoding);
    if (compression === undefined) return unchanged;
    try {
      bytes = await compression.decompress(bytes, MAX_ERROR_BYTES);
    } catch {
      return unchanged;
    }
  }
  const error = parseJson(bytes) as ErrorJson | undefined;
  if (!rewriteErrorJson(error, typeName)) return unchanged;
  const rewritten = new TextEncoder().encode(JSON.stringify(error));
  const newHeader = new Headers(header);
  newHeader.delete("content-encoding"); // sent uncompressed: always acceptable
  newHeader.set("content-length", String(rewritten.byteLength));
  return { ...uRes, status: codeToHttpStatus(Code.InvalidArgument), header: newHeader, body: iterableOf([rewritten]) };
}

/** Error envelopes and bodies are a few hundred bytes; refuse to inflate anything near this. */
const MAX_ERROR_BYTES = 1024 * 1024;

/**
 * One chunk of a gRPC-Web or Connect streaming body. Connect writes each envelope as one chunk
 * (transformJoinEnvelopes); a chunk that is exactly one envelope with `endFlag` is the end of
 * the stream, and `rewrite` may replace its data (it is then sent uncompressed, which is always
 * allowed). Anything else passes through as it is.
 */
async function rewriteEndEnvelope(
  chunk: Uint8Array,
  endFlag: number,
  compression: Compression | undefined,
  rewrite: (data: Uint8Array) => Uint8Array | undefined,
): Promise<Uint8Array> {
  if (chunk.byteLength < 5 || (chunk[0] & endFlag) !== endFlag) return chunk;
  const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (view.getUint32(1) !== chunk.byteLength - 5) return chunk;
  let data = chunk.subarray(5);
  if ((chunk[0] & compressedFlag) === compressedFlag) {
    if (compression === undefined) return chunk;
    try {
      data = await compression.decompress(data, MAX_ERROR_BYTES);
    } catch {
      return chunk;
    }
  }
  const rewritten = rewrite(data);
  return rewritten === undefined ? chunk : encodeEnvelope(endFlag, rewritten);
}

function findCompression(compressions: Compression[], name: string | null): Compression | undefined {
  return name === null ? undefined : compressions.find((c) => c.name === name);
}

function parseJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as unknown;
  } catch {
    return undefined;
  }
}

function iterableOf(chunks: Uint8Array[]): AsyncIterable<Uint8Array> {
  return (async function* () {
    yield* chunks;
  })();
}

/**
 * Wraps a response body: `chunk` may replace each chunk, `end` runs once the body is complete
 * (before the consumer learns it is). `throw` and `return` reach the inner iterator, as
 * universalResponseToNodeResponse expects (it reports write errors through `throw`).
 */
function mapBody(
  body: AsyncIterable<Uint8Array>,
  hooks: { chunk?: (chunk: Uint8Array) => Promise<Uint8Array>; end?: () => void },
): AsyncIterable<Uint8Array> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
      const it = body[Symbol.asyncIterator]();
      return {
        async next() {
          const r = await it.next();
          if (r.done === true) {
            hooks.end?.();
            return r;
          }
          return hooks.chunk ? { done: false, value: await hooks.chunk(r.value) } : r;
        },
        // The iterator protocol hands back what it was thrown, whatever it is.
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
        throw: (e?: unknown) => (it.throw ? it.throw(e) : Promise.reject(e)),
        return: (v?: unknown) => (it.return ? it.return(v) : Promise.resolve({ done: true, value: v })),
      };
    },
  };
}
