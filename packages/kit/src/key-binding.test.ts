import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JSONWebKeySet } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrandSchema } from "@adbudget/proto/adbudget/brand/v1/brand_pb.js";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { loadAuth, type AuthConfig } from "./auth-config.js";
import { createAuthGate } from "./auth-gate.js";
import { TokenVerifier } from "./auth-tokens.js";
import { generateSigningKey, type SigningKey } from "./dev-keys.js";
import { keySetProblems, localKeys, remoteKeys, type RoleBoundKeys } from "./key-set.js";
import { createLogger } from "./logger.js";
import type { AccessModel } from "./principal.js";
import { startServer, type RunningServer } from "./server.js";
import { clientTls } from "./tls.js";
import { bearerInterceptor, mintToken, type TokenClaims } from "./token-minting.js";
import { DEFAULT_ISSUER } from "./token-rules.js";

/**
 * Keys bound to identities (issue 22, item 2): one leaked workload key must not be every brand.
 * Before, any key of the set signed any role: a token with role admin signed by the campaign
 * service's key was an admin. These tokens are all validly signed; only the binding refuses them.
 */
const AUDIENCE = "kit-test";
const ACCESS: AccessModel = {
  roles: { admin: "all", viewer: "may-name", "campaign-service": "all" },
  scopeClaim: "brands",
  workloadCertificates: { "campaign-service": "campaign" },
};
const ROLES = Object.keys(ACCESS.roles);
const BRAND_ID = "0b6a4c3e-8d7f-4a51-9a43-3f3e2c1d0b9a";
const DEV_CERTS = fileURLToPath(new URL("../../../scripts/dev-certs.sh", import.meta.url));

/** The campaign service's key, the user-token issuer's, and a key registered for nothing. */
let workload: SigningKey;
let users: SigningKey;
let unbound: SigningKey;
let doc: JSONWebKeySet;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "adbudget-keys-"));
  workload = await generateSigningKey("campaign-1", ["campaign-service"]);
  users = await generateSigningKey("users-1", ["admin", "viewer"]);
  unbound = await generateSigningKey("old-1", []);
  doc = { keys: [workload.publicJwk, users.publicJwk, unbound.publicJwk] };
}, 30_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const mint = (key: SigningKey, claims: TokenClaims) =>
  mintToken(key.privateJwk, claims, { audience: AUDIENCE, issuer: DEFAULT_ISSUER, ttlSeconds: 600 });
const verifierOf = (keys: RoleBoundKeys) =>
  new TokenVerifier(keys, { audience: AUDIENCE, issuer: DEFAULT_ISSUER, access: ACCESS });

/** The verifier's answer: the principal's role, or the reason it refused (before the hint). */
const answer = (verifier: TokenVerifier, token: string) =>
  verifier.verify(token).then(
    (p) => `ok ${p.role}`,
    (err: unknown) => {
      const e = ConnectError.from(err);
      return `${Code[e.code]}: ${e.rawMessage.split(": send")[0]}`;
    },
  );

describe("keys bound to the roles they are registered for", () => {
  it.each([
    ["workload", "campaign-service", "ok campaign-service"],
    ["workload", "admin", 'Unauthenticated: the key "campaign-1" is not registered to sign admin tokens'],
    ["workload", "viewer", 'Unauthenticated: the key "campaign-1" is not registered to sign viewer tokens'],
    ["users", "admin", "ok admin"],
    ["users", "viewer", "ok viewer"],
    [
      "users",
      "campaign-service",
      'Unauthenticated: the key "users-1" is not registered to sign campaign-service tokens',
    ],
    ["unbound", "viewer", 'Unauthenticated: the key "old-1" is not registered to sign viewer tokens'],
  ] as const)("a token of the %s key with role %s: %s", async (signer, role, expected) => {
    const key = { workload, users, unbound }[signer];
    expect(await answer(verifierOf(localKeys(doc)), await mint(key, { sub: `${signer}:1`, role }))).toBe(expected);
  });

  it("refuses a token that names no key, even where the set has one key to pick", async () => {
    const alone = verifierOf(localKeys({ keys: [users.publicJwk] }));
    const { kid: _, ...noKid } = users.privateJwk;
    const token = await new SignJWT({ role: "admin" })
      .setProtectedHeader({ alg: "EdDSA", typ: "JWT" })
      .setSubject("x")
      .setIssuer(DEFAULT_ISSUER)
      .setAudience(AUDIENCE)
      .setIssuedAt()
      .setJti("j")
      .setExpirationTime("10m")
      .sign(await importJWK(noKid, "EdDSA"));
    // The key was found (jose picks the only one) and the signature is good: the binding refuses.
    expect(await answer(alone, token)).toBe('Unauthenticated: the key "" is not registered to sign admin tokens');
    expect(await answer(alone, await mint(users, { sub: "x", role: "admin" }))).toBe("ok admin");
  });

  it("lets a kid that two keys share sign nothing: jose and the binding could pick different ones", async () => {
    const ec = await generateKeyPair("ES256", { extractable: true });
    const admin = { ...(await exportJWK(ec.publicKey)), kid: "x", alg: "ES256", use: "sig", roles: ["admin"] };
    const twin = await generateSigningKey("x", ["campaign-service"]);
    for (const keys of [
      [admin, twin.publicJwk],
      [twin.publicJwk, admin],
    ]) {
      const verifier = verifierOf(localKeys({ keys }));
      expect(await answer(verifier, await mint(twin, { sub: "c", role: "admin" }))).toMatch(/"x" is not registered/);
      expect(await answer(verifier, await mint(twin, { sub: "c", role: "campaign-service" }))).toMatch(
        /"x" is not registered/,
      );
    }
  });

  it("reads a fetched key set's bindings from the document jose holds", async () => {
    let served: JSONWebKeySet = doc;
    const server: Server = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(served));
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    try {
      const address = server.address();
      if (address === null || typeof address === "string") throw new Error("no port");
      // No cooldown between fetches: the rotation below is fetched at once (jose waits 30 s by default).
      const keys = remoteKeys(new URL(`http://127.0.0.1:${address.port}/jwks.json`), { cooldownDuration: 0 });
      const verifier = verifierOf(keys);
      expect(await answer(verifier, await mint(workload, { sub: "c", role: "campaign-service" }))).toBe(
        "ok campaign-service",
      );
      expect(await answer(verifier, await mint(workload, { sub: "c", role: "admin" }))).toMatch(/not registered/);
      // A new key, published after the first fetch, is fetched on its first token with its binding.
      const next = await generateSigningKey("users-2", ["viewer"]);
      served = { keys: [...doc.keys, next.publicJwk] };
      expect(await answer(verifier, await mint(next, { sub: "v", role: "viewer" }))).toBe("ok viewer");
      expect(await answer(verifier, await mint(next, { sub: "v", role: "admin" }))).toMatch(
        /"users-2" is not registered/,
      );
    } finally {
      server.close();
    }
  });
});

describe("a key set is checked when a workload starts", () => {
  it.each([
    [[{ kty: "OKP", kid: "a", roles: ["admin"] }], []],
    [[{ kty: "OKP", roles: ["admin"] }], ['key #1: no "kid" (tokens name their key)']],
    [
      [
        { kty: "OKP", kid: "a", roles: ["admin"] },
        { kty: "OKP", kid: "a", roles: ["viewer"] },
      ],
      ['key "a": the kid is used twice'],
    ],
    [
      [{ kty: "OKP", kid: "a" }],
      ['key "a": no "roles" (the roles it may sign, e.g. ["budget-service"]): it signs nothing'],
    ],
    [
      [{ kty: "OKP", kid: "a", roles: "admin" }],
      ['key "a": no "roles" (the roles it may sign, e.g. ["budget-service"]): it signs nothing'],
    ],
    [[{ kty: "OKP", kid: "a", roles: ["root"] }], ['key "a": unknown role "root" in "roles"']],
    [[], ["no keys"]],
  ])("%j: %j", (keys, problems) => {
    expect(keySetProblems({ keys }, ROLES)).toEqual(problems);
  });

  const config = (jwks: JSONWebKeySet, key: SigningKey): AuthConfig => {
    const jwksFile = join(dir, `${key.privateJwk.kid}-jwks.json`);
    const privateKeyFile = join(dir, `${key.privateJwk.kid}.json`);
    writeFileSync(jwksFile, JSON.stringify(jwks));
    writeFileSync(privateKeyFile, JSON.stringify(key.privateJwk));
    return { disabled: false, audience: AUDIENCE, issuer: DEFAULT_ISSUER, jwksFile, jwksUrl: "", privateKeyFile };
  };
  const identity = { sub: "service:campaign", role: "campaign-service" };

  it("starts with its own key registered for its identity", () => {
    expect(
      loadAuth(config({ keys: [workload.publicJwk, users.publicJwk] }, workload), identity, ACCESS).verifier,
    ).toBeDefined();
  });

  it("refuses to start with its own key registered for another role, or with a key that signs nothing", () => {
    expect(() => loadAuth(config({ keys: [workload.publicJwk, users.publicJwk] }, users), identity, ACCESS)).toThrow(
      /this workload's key "users-1" is not registered for its role campaign-service/,
    );
    expect(() => loadAuth(config(doc, workload), identity, ACCESS)).toThrow(/key "old-1": no "roles"/);
  });
});

describe("under mutual TLS a workload's token needs its workload's certificate", () => {
  let certs: string;
  let server: RunningServer;

  beforeAll(async () => {
    certs = join(dir, "certs");
    execFileSync("bash", [DEV_CERTS, certs], { stdio: "pipe" });
    const logger = createLogger("key-binding-test", "silent");
    server = await startServer({
      name: "key-binding-test",
      host: "127.0.0.1",
      port: 0,
      logger,
      // request: humans may come without a certificate; workloads must bring theirs.
      tls: {
        certFile: join(certs, "brand.pem"),
        keyFile: join(certs, "brand-key.pem"),
        caFile: join(certs, "ca.pem"),
        clientAuth: "request",
      },
      services: [BrandService],
      probes: {},
      requestGate: createAuthGate(verifierOf(localKeys(doc)), logger, undefined, ACCESS.workloadCertificates),
      routes(router) {
        router.service(BrandService, {
          getBrand: (req) => ({
            brand: create(BrandSchema, { id: req.id, name: "b", timeZone: "UTC", currencyCode: "USD", etag: "1" }),
          }),
        });
      },
    });
  }, 30_000);
  afterAll(async () => {
    await server?.close();
  });

  /** GetBrand with `token`, over a connection with the client certificate `cert` (or none). */
  const call = async (token: string, cert?: string): Promise<string> => {
    const tls = {
      tlsCaFile: join(certs, "ca.pem"),
      tlsClientCertFile: cert === undefined ? "" : join(certs, `${cert}.pem`),
      tlsClientKeyFile: cert === undefined ? "" : join(certs, `${cert}-key.pem`),
    };
    const transport = createGrpcTransport({
      baseUrl: server.url,
      ...clientTls(server.url, tls),
      interceptors: [bearerInterceptor(token)],
    });
    try {
      await createClient(BrandService, transport).getBrand({ id: BRAND_ID }, { timeoutMs: 5000 });
      return "ok";
    } catch (err) {
      const e = ConnectError.from(err);
      return `${Code[e.code]}: ${e.rawMessage}`;
    }
  };

  it.each([
    ["campaign-service", "campaign", "ok"],
    [
      "campaign-service",
      "budget",
      'Unauthenticated: a campaign-service token must arrive with the client certificate of campaign (mutual TLS), not "budget"',
    ],
    [
      "campaign-service",
      undefined,
      "Unauthenticated: a campaign-service token must arrive with the client certificate of campaign (mutual TLS), not none",
    ],
    ["viewer", undefined, "ok"],
    ["viewer", "operator", "ok"],
  ] as const)("a %s token with the certificate %s: %s", async (role, cert, expected) => {
    const key = role === "campaign-service" ? workload : users;
    expect(await call(await mint(key, { sub: "s", role }), cert)).toBe(expected);
  });
});
