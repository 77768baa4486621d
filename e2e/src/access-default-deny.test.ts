import { readFileSync } from "node:fs";
import {
  create,
  createFileRegistry,
  type DescMessage,
  type DescMethod,
  type DescMethodUnary,
  type DescService,
} from "@bufbuild/protobuf";
import { EmptySchema, FileDescriptorProtoSchema, file_google_protobuf_empty } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, expect, it } from "vitest";
import {
  createAuthGate,
  createLogger,
  DEFAULT_ISSUER,
  isJwks,
  localKeys,
  startServer,
  TokenVerifier,
  type RunningServer,
  type TokenClaims,
} from "@adbudget/kit";
import { createTestAuth, TEST_AUDIENCE, type TestAuth } from "@adbudget/testing";
import { ACCESS, ROLES } from "@adbudget/topology";
import { ServerReflection } from "@adbudget/proto/grpc/reflection/v1/reflection_pb.js";
import { ROLE_SCOPE } from "./access-table.js";

/**
 * Default deny (docs/design.md, Access): an RPC nobody wrote a rule for is refused to everyone,
 * admin included. The services' own RPCs all have rules (access.test.ts holds them to the
 * table), so this serves one more, unlisted, service through the services' server and auth
 * gate, over a real port, and calls it with a valid token of every role.
 */
const registry = createFileRegistry(
  create(FileDescriptorProtoSchema, {
    name: "adbudget/test/v1/unlisted.proto",
    package: "adbudget.test.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/empty.proto"],
    service: [
      {
        name: "UnlistedService",
        method: [{ name: "Touch", inputType: ".google.protobuf.Empty", outputType: ".google.protobuf.Empty" }],
      },
    ],
  }),
  (file) => (file === "google/protobuf/empty.proto" ? file_google_protobuf_empty : undefined),
);

let auth: TestAuth;
let server: RunningServer;
/** Calls that reached the unlisted RPC's handler. */
let handled = 0;

const isUnary = (m: DescMethod | undefined): m is DescMethodUnary<DescMessage, DescMessage> =>
  m?.methodKind === "unary";

function unlistedTouch(): { service: DescService; method: DescMethodUnary<DescMessage, DescMessage> } {
  const service = registry.getService("adbudget.test.v1.UnlistedService");
  const method = service?.methods[0];
  if (service === undefined || !isUnary(method)) throw new Error("the test's descriptor has no unary Touch");
  return { service, method };
}

beforeAll(async () => {
  auth = await createTestAuth();
  const jwks: unknown = JSON.parse(readFileSync(auth.env.AUTH_JWKS_FILE ?? "", "utf8"));
  if (!isJwks(jwks)) throw new Error("the test keys are not a JWKS");
  const logger = createLogger("default-deny-test", "silent");
  const { service, method } = unlistedTouch();
  server = await startServer({
    name: "default-deny-test",
    host: "127.0.0.1",
    port: 0,
    logger,
    services: [service],
    routes: (router) => {
      router.rpc(method, async () => {
        handled++;
        return create(EmptySchema);
      });
    },
    probes: {},
    requestGate: createAuthGate(
      new TokenVerifier(localKeys(jwks), { audience: TEST_AUDIENCE, issuer: DEFAULT_ISSUER, access: ACCESS }),
      logger,
    ),
  });
});
afterAll(async () => {
  await server?.close();
});

/** A valid token of `role` (naming a brand when the role must). */
const claims = (role: (typeof ROLES)[number]): TokenClaims =>
  ROLE_SCOPE[role] === "brands"
    ? { sub: `test:${role}`, role, brands: ["01900000-0000-7000-8000-0000000000aa"] }
    : { sub: `test:${role}`, role };

it("an RPC without a rule is refused to every role, admin included, before its handler runs", async () => {
  const { method } = unlistedTouch();
  const transport = createGrpcTransport({ baseUrl: server.url });
  const answers: [string, string, string][] = [];
  for (const role of ROLES) {
    const header = { authorization: `Bearer ${await auth.mint(claims(role))}` };
    const touch = await transport.unary(method, undefined, 5000, header, create(EmptySchema)).then(
      () => "OK",
      (e: unknown) => Code[ConnectError.from(e).code],
    );
    // The same token is good on this server: reflection has a rule (any valid credential).
    const reflection = createClient(ServerReflection, transport);
    const ask = (async function* () {
      yield { messageRequest: { case: "listServices" as const, value: "" } };
    })();
    const reflect = await (async () => {
      for await (const _ of reflection.serverReflectionInfo(ask, { headers: header })) void _;
    })().then(
      () => "OK",
      (e: unknown) => Code[ConnectError.from(e).code],
    );
    answers.push([role, touch, reflect]);
  }
  expect(answers).toEqual(ROLES.map((role) => [role, "PermissionDenied", "OK"]));
  expect(handled).toBe(0);
});
