import { gzipSync } from "node:zlib";
import { create, toBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { compressionGzip, createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrandSchema, type Brand } from "@adbudget/proto/adbudget/brand/v1/brand_pb.js";
import { BrandService, CreateBrandRequestSchema } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { createLogger } from "./logger.js";
import { startServer, type RunningServer } from "./server.js";

const BRAND_ID = "0b6a4c3e-8d7f-4a51-9a43-3f3e2c1d0b9a";
const FIVE_MIB = 5 * 1024 * 1024;

/** A fake BrandService: enough to see what reaches a handler and what does not. */
async function start(maxRequestBytes?: number): Promise<{ server: RunningServer; handled: string[] }> {
  const handled: string[] = [];
  const brand = (init: MessageInitShape<typeof BrandSchema>): Brand =>
    create(BrandSchema, { id: BRAND_ID, name: "Acme", timeZone: "UTC", currencyCode: "USD", etag: "1", ...init });
  const server = await startServer({
    name: "input-test",
    host: "127.0.0.1",
    port: 0,
    logger: createLogger("input-test", "silent"),
    services: [BrandService],
    probes: {},
    shutdownGraceMs: 100,
    maxRequestBytes,
    routes(router) {
      router.service(BrandService, {
        async getBrand(req) {
          handled.push(`get ${req.id}`);
          return { brand: brand({ id: req.id }) };
        },
        async createBrand(req) {
          handled.push(`create ${req.name.length}`);
          return { brand: brand({ name: req.name }) };
        },
        async updateBrand(req) {
          handled.push("update");
          return { brand: req.brand };
        },
        async listBrands() {
          throw new ConnectError("not in this fake", Code.Unimplemented);
        },
        async archiveBrand() {
          throw new ConnectError("not in this fake", Code.Unimplemented);
        },
      });
    },
  });
  return { server, handled };
}

async function codeOf(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("the call succeeded");
}

/** A Connect-protocol unary call over HTTP/1.1 with a raw JSON body, as curl would send it. */
async function postJson(
  server: RunningServer,
  method: string,
  body: string | ReadableStream<Uint8Array>,
  headers: Record<string, string> = {},
) {
  const res = await fetch(`${server.url}/adbudget.brand.v1.BrandService/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
    ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
  });
  const json = (await res.json()) as { code?: string; message?: string; brand?: { name: string } };
  return { status: res.status, connection: res.headers.get("connection"), json };
}

describe("startServer: bad input is INVALID_ARGUMENT, big input RESOURCE_EXHAUSTED, and the server goes on", () => {
  let server: RunningServer;
  let handled: string[];
  let grpc: Transport;
  let brands: Client<typeof BrandService>;

  beforeAll(async () => {
    ({ server, handled } = await start());
    grpc = createGrpcTransport({ baseUrl: server.url });
    brands = createClient(BrandService, grpc);
  });
  afterAll(async () => {
    await server.close();
  });

  it("refuses a NUL in a string with a field violation naming the field, before the handler", async () => {
    const before = handled.length;
    const err = await codeOf(brands.createBrand({ name: "Acme\u0000Corp" }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations).toEqual([
      expect.objectContaining({ field: "name", description: "must not contain control characters (found U+0000)" }),
    ]);
    expect(handled.length).toBe(before);
  });

  it("refuses NUL and unpaired surrogates sent as JSON escapes over HTTP/1.1", async () => {
    const nul = await postJson(server, "CreateBrand", '{"name":"a\\u0000b"}');
    expect(nul).toMatchObject({
      status: 400,
      json: { code: "invalid_argument", message: "name: must not contain control characters (found U+0000)" },
    });
    // protobuf-es' JSON parser refuses these itself (naming the field); the walk backs it up
    // for messages built in other ways.
    const lone = await postJson(server, "CreateBrand", '{"name":"Acme \\ud800"}');
    expect(lone.status).toBe(400);
    expect(lone.json.code).toBe("invalid_argument");
    expect(lone.json.message).toMatch(/CreateBrandRequest\.name.*invalid UTF8/);
  });

  it("refuses an out-of-range Timestamp (any int64 seconds fits in binary gRPC)", async () => {
    const err = await codeOf(
      brands.updateBrand({
        brand: {
          id: BRAND_ID,
          name: "Acme",
          createTime: { seconds: 2n ** 62n, nanos: 0 },
          archiveTime: { seconds: 0n, nanos: -1 },
        },
        updateMask: { paths: ["name"] },
      }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(err.findDetails(BadRequestSchema)[0]?.fieldViolations.map((v) => v.field)).toEqual([
      "brand.create_time",
      "brand.archive_time",
    ]);
  });

  it("refuses a 5 MiB message over gRPC with RESOURCE_EXHAUSTED and keeps serving the connection", async () => {
    const err = await codeOf(brands.createBrand({ name: "x".repeat(FIVE_MIB) }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect(handled.some((h) => h === `create ${FIVE_MIB}`)).toBe(false);
    // Same transport, same HTTP/2 session.
    expect((await brands.getBrand({ id: BRAND_ID })).brand?.id).toBe(BRAND_ID);
  });

  it("refuses a gzip bomb: the limit holds after decompression", async () => {
    const gzipped = createClient(
      BrandService,
      createGrpcTransport({ baseUrl: server.url, sendCompression: compressionGzip }),
    );
    expect(gzipSync("x".repeat(FIVE_MIB)).length).toBeLessThan(10_000);
    const err = await codeOf(gzipped.createBrand({ name: "x".repeat(FIVE_MIB) }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect((await gzipped.getBrand({ id: BRAND_ID })).brand?.id).toBe(BRAND_ID);
  });

  it("refuses a 5 MiB JSON body over HTTP/1.1 (Content-Length or chunked) with resource_exhausted", async () => {
    const body = JSON.stringify({ name: "x".repeat(FIVE_MIB) });
    const sized = await postJson(server, "CreateBrand", body);
    expect(sized.json.code).toBe("resource_exhausted");
    expect(sized.status).toBe(429); // Connect's HTTP status for RESOURCE_EXHAUSTED
    // Answered before the body was read: the connection is not reused (see closeWhenBodyUnread).
    expect(sized.connection).toBe("close");

    // No Content-Length: the limit is counted while reading.
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode('{"name":"'));
      },
      pull(c) {
        if (sent >= FIVE_MIB) {
          c.enqueue(new TextEncoder().encode('"}'));
          c.close();
        } else {
          sent += chunk.length;
          c.enqueue(chunk);
        }
      },
    });
    const chunked = await postJson(server, "CreateBrand", stream);
    expect(chunked.json.code).toBe("resource_exhausted");

    const ok = await postJson(server, "CreateBrand", JSON.stringify({ name: "Acme" }));
    expect(ok).toMatchObject({ status: 200, json: { brand: { name: "Acme" } } });
    expect(ok.connection).not.toBe("close"); // normal calls keep their connection alive
  });

  it("refuses a 5 MiB binary body over the Connect protocol (HTTP/1.1) too", async () => {
    const connect = createClient(BrandService, createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" }));
    const err = await codeOf(connect.createBrand({ name: "x".repeat(FIVE_MIB) }));
    expect(err.code).toBe(Code.ResourceExhausted);
    expect((await connect.createBrand({ name: "Acme" })).brand?.name).toBe("Acme");
  });

  it("still serves normal calls after all of the above", async () => {
    expect((await brands.createBrand({ name: "Acme Corp" })).brand?.name).toBe("Acme Corp");
    const fresh = createClient(BrandService, createGrpcTransport({ baseUrl: server.url }));
    expect((await fresh.getBrand({ id: BRAND_ID })).brand?.id).toBe(BRAND_ID);
  });
});

describe("startServer maxRequestBytes", () => {
  it("is configurable", async () => {
    const { server } = await start(1024);
    try {
      const brands = createClient(BrandService, createGrpcTransport({ baseUrl: server.url }));
      const size = toBinary(
        CreateBrandRequestSchema,
        create(CreateBrandRequestSchema, { name: "x".repeat(1100) }),
      ).length;
      expect(size).toBeGreaterThan(1024);
      expect((await codeOf(brands.createBrand({ name: "x".repeat(1100) }))).code).toBe(Code.ResourceExhausted);
      expect((await brands.createBrand({ name: "x".repeat(200) })).brand?.name).toHaveLength(200);
    } finally {
      await server.close();
    }
  });
});

describe("startServer HTTP/1.1 connections", () => {
  it("are tracked: close() does not wait for an idle keep-alive client", async () => {
    const { server } = await start();
    const ok = await postJson(server, "CreateBrand", JSON.stringify({ name: "Acme" }));
    expect(ok.status).toBe(200);
    expect(ok.connection).not.toBe("close");
    // fetch keeps the connection open (4 s): before connection tracking, close() waited for it.
    const started = performance.now();
    await server.close();
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
