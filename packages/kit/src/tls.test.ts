import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as https from "node:https";
import * as tls from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrandSchema } from "@adbudget/proto/adbudget/brand/v1/brand_pb.js";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { ConfigError, EnvReader, readServiceConfig } from "./config.js";
import { serverOptionsFrom } from "./lifecycle.js";
import { createLogger } from "./logger.js";
import { peerIdentity } from "./request-context.js";
import { startServer, type RunningServer } from "./server.js";
import { ORDERS_DEFAULTS } from "./service-defaults.test-support.js";
import { clientTls, readClientTlsSettings, type ClientTlsSettings, type TlsClientAuth } from "./tls.js";

const BRAND_ID = "0b6a4c3e-8d7f-4a51-9a43-3f3e2c1d0b9a";
const DEV_CERTS = fileURLToPath(new URL("../../../scripts/dev-certs.sh", import.meta.url));

/** The problems about TLS settings (other settings, such as auth keys, are not these tests' business). */
const tlsProblems = (reader: EnvReader): string[] => reader.problems.filter((p) => p.startsWith("TLS_"));

let dir: string;
/** Certificates of the CA the server trusts (`ours`) and of another CA (`theirs`). */
let ours: string;
let theirs: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "adbudget-tls-"));
  ours = join(dir, "ours");
  theirs = join(dir, "theirs");
  execFileSync("bash", [DEV_CERTS, ours], { stdio: "pipe" });
  execFileSync("bash", [DEV_CERTS, theirs], { stdio: "pipe" });
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A BrandService server configured from the environment as a service is (readServiceConfig ->
 * serverOptionsFrom), with brand.pem: GetBrand answers the caller's verified CN as the name.
 */
async function startTlsServer(clientAuth: TlsClientAuth): Promise<RunningServer> {
  const reader = new EnvReader({
    TLS_CERT_FILE: join(ours, "brand.pem"),
    TLS_KEY_FILE: join(ours, "brand-key.pem"),
    TLS_CA_FILE: join(ours, "ca.pem"),
    TLS_CLIENT_AUTH: clientAuth,
  });
  const config = readServiceConfig(ORDERS_DEFAULTS, reader);
  expect(tlsProblems(reader)).toEqual([]);
  return startServer({
    ...serverOptionsFrom(config),
    name: "tls-test",
    host: "127.0.0.1",
    port: 0,
    metricsPort: undefined,
    logger: createLogger("tls-test", "silent"),
    services: [BrandService],
    probes: {},
    shutdownGraceMs: 100,
    routes(router) {
      router.service(BrandService, {
        async getBrand(req, ctx) {
          const name = peerIdentity(ctx) ?? "anonymous";
          return { brand: create(BrandSchema, { id: req.id, name, timeZone: "UTC", currencyCode: "USD", etag: "1" }) };
        },
      });
    },
  });
}

/** What a caller's environment gives clientTls (TLS_CA_FILE, and its certificate when any). */
function settings(caDir: string, certDir?: string, name = "campaign"): ClientTlsSettings {
  const env: Record<string, string> = { TLS_CA_FILE: join(caDir, "ca.pem") };
  if (certDir !== undefined) {
    env.TLS_CLIENT_CERT_FILE = join(certDir, `${name}.pem`);
    env.TLS_CLIENT_KEY_FILE = join(certDir, `${name}-key.pem`);
  }
  const reader = new EnvReader(env);
  const s = readClientTlsSettings(reader);
  reader.done();
  return s;
}

/** GetBrand over gRPC (HTTP/2, ALPN h2), as a service's typed client calls. */
async function nameSeenBy(server: RunningServer, tls: ClientTlsSettings): Promise<string | undefined> {
  const transport = createGrpcTransport({ baseUrl: server.url, ...clientTls(server.url, tls) });
  const { brand } = await createClient(BrandService, transport).getBrand({ id: BRAND_ID }, { timeoutMs: 5000 });
  return brand?.name;
}

async function refusal(call: Promise<unknown>): Promise<{ err: ConnectError; ms: number }> {
  const started = performance.now();
  try {
    await call;
  } catch (err) {
    return { err: ConnectError.from(err), ms: performance.now() - started };
  }
  throw new Error("the call succeeded");
}

const pem = (certDir: string, file: string): Buffer => readFileSync(join(certDir, file));

/** The Node error codes along the cause chain of a client error. */
function nodeCodes(err: ConnectError): string[] {
  const codes: string[] = [];
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if ("code" in e && typeof e.code === "string") codes.push(e.code);
  }
  return codes;
}

/**
 * A bare TLS connection offering h2: whether the handshake completed on the client's side, how
 * many bytes the server sent (its HTTP/2 SETTINGS, when it let the client in), and who closed.
 */
function rawTls(
  server: RunningServer,
  options: tls.ConnectionOptions,
): Promise<{ handshake: boolean; bytes: number; closedBy: string; error?: string }> {
  return new Promise((resolve) => {
    const result: { handshake: boolean; bytes: number; closedBy: string; error?: string } = {
      handshake: false,
      bytes: 0,
      closedBy: "server",
    };
    const socket = tls.connect({ host: "127.0.0.1", port: server.port, ALPNProtocols: ["h2"], ...options });
    const timer = setTimeout(() => {
      result.closedBy = "timeout";
      socket.destroy();
    }, 3000);
    socket.on("secureConnect", () => (result.handshake = true));
    socket.on("data", (chunk: Buffer) => {
      result.bytes += chunk.length;
      result.closedBy = "client";
      socket.destroy();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => (result.error = err.code));
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(result);
    });
  });
}

/** A Connect JSON call over HTTP/1.1 (no ALPN h2), as curl would send it. */
function postJson(server: RunningServer, options: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${server.url}/adbudget.brand.v1.BrandService/GetBrand`,
      { method: "POST", headers: { "content-type": "application/json" }, agent: false, ...options },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify({ id: BRAND_ID }));
  });
}

describe("mutual TLS: TLS_CLIENT_AUTH=require", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startTlsServer("require");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("serves https and lets in a client whose certificate the CA signed; the handler sees its CN", async () => {
    expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(await nameSeenBy(server, settings(ours, ours, "campaign"))).toBe("campaign");
    expect(await nameSeenBy(server, settings(ours, ours, "operator"))).toBe("operator");
  });

  it("takes the workload's own certificate (TLS_CERT_FILE / TLS_KEY_FILE) for calls by default", async () => {
    const reader = new EnvReader({
      TLS_CERT_FILE: join(ours, "budget.pem"),
      TLS_KEY_FILE: join(ours, "budget-key.pem"),
      TLS_CA_FILE: join(ours, "ca.pem"),
    });
    const config = readServiceConfig({ ...ORDERS_DEFAULTS, name: "billing", prefix: "BILLING" }, reader);
    expect(tlsProblems(reader)).toEqual([]);
    expect(config).toMatchObject({
      tlsClientCertFile: join(ours, "budget.pem"),
      tlsClientKeyFile: join(ours, "budget-key.pem"),
    });
    expect(await nameSeenBy(server, config)).toBe("budget");
  });

  // connect-node classifies what Node reports: a TLS alert is INTERNAL, a connection closed
  // under an open stream CANCELED (gRPC's C/Go/Java clients would say UNAVAILABLE for both).
  it("refuses the handshake of a client without a certificate: a TLS alert at once, not a timeout", async () => {
    const { err, ms } = await refusal(nameSeenBy(server, settings(ours)));
    expect(err.code).toBe(Code.Internal);
    expect(err.message).toMatch(/tlsv13 alert certificate required/);
    expect(nodeCodes(err)).toContain("ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    expect(ms).toBeLessThan(3000);
    // The same at the TLS layer: the server's first answer after the handshake is the alert.
    expect(await rawTls(server, { ca: pem(ours, "ca.pem") })).toMatchObject({
      bytes: 0,
      error: "ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED",
    });
  });

  it("refuses a client whose certificate another CA signed: the connection closes right after the handshake", async () => {
    const { err, ms } = await refusal(nameSeenBy(server, settings(ours, theirs, "operator")));
    expect([Code.Canceled, Code.Unavailable, Code.Aborted]).toContain(err.code);
    expect(err.code).not.toBe(Code.DeadlineExceeded);
    expect(ms).toBeLessThan(3000);
    // Node verifies the certificate when its TLS 1.3 handshake ends and closes the connection
    // (no alert): not one byte of HTTP/2 reaches the client, where a good certificate gets the
    // server's SETTINGS at once.
    expect(
      await rawTls(server, {
        ca: pem(ours, "ca.pem"),
        cert: pem(theirs, "operator.pem"),
        key: pem(theirs, "operator-key.pem"),
      }),
    ).toMatchObject({
      handshake: true,
      bytes: 0,
      closedBy: "server",
    });
    expect(
      await rawTls(server, {
        ca: pem(ours, "ca.pem"),
        cert: pem(ours, "operator.pem"),
        key: pem(ours, "operator-key.pem"),
      }),
    ).toMatchObject({
      handshake: true,
      closedBy: "client",
    });
  });

  it("is refused by a client that does not trust the server's CA", async () => {
    const { err } = await refusal(nameSeenBy(server, settings(theirs, theirs, "operator")));
    expect(err.code).toBe(Code.Internal);
    expect(nodeCodes(err)).toContain("SELF_SIGNED_CERT_IN_CHAIN");
  });

  it("serves Connect JSON over HTTP/1.1 to a client with a certificate, and refuses one without", async () => {
    const ca = readFileSync(join(ours, "ca.pem"));
    const ok = await postJson(server, {
      ca,
      cert: readFileSync(join(ours, "operator.pem")),
      key: readFileSync(join(ours, "operator-key.pem")),
    });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toMatchObject({ brand: { id: BRAND_ID, name: "operator" } });
    await expect(postJson(server, { ca })).rejects.toThrow(/certificate required/);
  });
});

describe("TLS_CLIENT_AUTH=request", () => {
  let server: RunningServer;

  beforeAll(async () => {
    server = await startTlsServer("request");
  });
  afterAll(async () => {
    await server?.close();
  });

  it("lets every client in; only a certificate the CA signed gives a peer identity", async () => {
    expect(await nameSeenBy(server, settings(ours, ours, "clocks"))).toBe("clocks");
    expect(await nameSeenBy(server, settings(ours))).toBe("anonymous");
    expect(await nameSeenBy(server, settings(ours, theirs, "operator"))).toBe("anonymous");
  });
});

describe("TLS settings in readServiceConfig", () => {
  const problemsOf = (env: Record<string, string>): string[] => {
    const reader = new EnvReader(env);
    readServiceConfig(ORDERS_DEFAULTS, reader);
    expect(() => reader.done()).toThrow(ConfigError);
    return tlsProblems(reader);
  };

  it("defaults to plaintext, no client certificates, the system's CAs", () => {
    const reader = new EnvReader({});
    expect(readServiceConfig(ORDERS_DEFAULTS, reader)).toMatchObject({
      tlsCertFile: "",
      tlsKeyFile: "",
      tlsClientAuth: "none",
      tlsCaFile: "",
      tlsClientCertFile: "",
      tlsClientKeyFile: "",
    });
    expect(tlsProblems(reader)).toEqual([]);
  });

  it("needs TLS_CA_FILE and a server certificate for request and require", () => {
    expect(problemsOf({ TLS_CLIENT_AUTH: "require" })).toEqual([
      "TLS_CLIENT_AUTH=require needs TLS_CA_FILE (the CAs that sign client certificates)",
      "TLS_CLIENT_AUTH=require needs TLS_CERT_FILE and TLS_KEY_FILE (client certificates are asked for over TLS only)",
    ]);
    expect(
      problemsOf({
        TLS_CLIENT_AUTH: "request",
        TLS_CERT_FILE: join(ours, "brand.pem"),
        TLS_KEY_FILE: join(ours, "brand-key.pem"),
      }),
    ).toEqual(["TLS_CLIENT_AUTH=request needs TLS_CA_FILE (the CAs that sign client certificates)"]);
  });

  it("names a bad TLS_CLIENT_AUTH, files that cannot be read, and a certificate without its key, once each", () => {
    const problems = problemsOf({
      TLS_CLIENT_AUTH: "sometimes",
      TLS_CA_FILE: join(dir, "missing-ca.pem"),
      TLS_CERT_FILE: join(ours, "brand.pem"),
    });
    expect(problems).toEqual([
      'TLS_CLIENT_AUTH="sometimes": expected one of none, request, require',
      "TLS_CERT_FILE and TLS_KEY_FILE must be set together",
      `TLS_CA_FILE=${JSON.stringify(join(dir, "missing-ca.pem"))}: cannot read the file (ENOENT)`,
    ]);
    expect(problemsOf({ TLS_CLIENT_CERT_FILE: join(ours, "brand.pem") })).toEqual([
      "TLS_CLIENT_CERT_FILE and TLS_CLIENT_KEY_FILE must be set together",
    ]);
    expect(problemsOf({ TLS_CERT_FILE: join(dir, "nope.pem"), TLS_KEY_FILE: join(dir, "nope-key.pem") })).toEqual([
      `TLS_CERT_FILE=${JSON.stringify(join(dir, "nope.pem"))}: cannot read the file (ENOENT)`,
      `TLS_KEY_FILE=${JSON.stringify(join(dir, "nope-key.pem"))}: cannot read the file (ENOENT)`,
    ]);
  });

  it("uses the client pair when set, and the server pair for calls otherwise", () => {
    const reader = new EnvReader({
      TLS_CERT_FILE: join(ours, "brand.pem"),
      TLS_KEY_FILE: join(ours, "brand-key.pem"),
      TLS_CLIENT_CERT_FILE: join(ours, "operator.pem"),
      TLS_CLIENT_KEY_FILE: join(ours, "operator-key.pem"),
    });
    expect(readClientTlsSettings(reader)).toEqual({
      tlsCaFile: "",
      tlsClientCertFile: join(ours, "operator.pem"),
      tlsClientKeyFile: join(ours, "operator-key.pem"),
    });
    expect(reader.problems).toEqual([]);
  });

  it("passes TLS options to createGrpcTransport for https URLs only", () => {
    const s = settings(ours, ours, "clocks");
    expect(clientTls("http://127.0.0.1:50051", s)).toEqual({});
    expect(clientTls("https://127.0.0.1:50051", s).nodeOptions).toMatchObject({
      ca: readFileSync(join(ours, "ca.pem")),
      cert: readFileSync(join(ours, "clocks.pem")),
      key: readFileSync(join(ours, "clocks-key.pem")),
    });
  });
});
