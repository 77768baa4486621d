import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { type JSONWebKeySet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { TokenVerifier } from "./auth-tokens.js";
import { ensureDevKeys } from "./dev-keys.js";
import { localKeys, type RoleBoundKeys } from "./key-set.js";
import { mintToken } from "./token-minting.js";
import { DEFAULT_ISSUER } from "./token-rules.js";
import type { AccessModel } from "./principal.js";

const AUDIENCE = "kit-test";
/** A made-up system: clerks must name their shops, viewers may, admins act on all. */
const ACCESS: AccessModel = { roles: { clerk: "must-name", viewer: "may-name", admin: "all" }, scopeClaim: "shops" };
const shop = (i: number) => `01900000-0000-7000-8000-${String(i).padStart(12, "0")}`;
let keys: RoleBoundKeys;
let verifier: TokenVerifier;
let mint: (claims: Parameters<typeof mintToken>[1], ttlSeconds?: number) => Promise<string>;

beforeAll(async () => {
  const { jwksFile, privateJwk } = await ensureDevKeys(mkdtempSync(join(tmpdir(), "adbudget-auth-")), [
    "clerk",
    "viewer",
    "admin",
  ]);
  keys = localKeys(JSON.parse(readFileSync(jwksFile, "utf8")) as JSONWebKeySet);
  verifier = new TokenVerifier(keys, { audience: AUDIENCE, issuer: DEFAULT_ISSUER, access: ACCESS });
  mint = (claims, ttlSeconds = 3600) =>
    mintToken(privateJwk, claims, { audience: AUDIENCE, issuer: DEFAULT_ISSUER, ttlSeconds });
});

const code = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (err: unknown) => Code[ConnectError.from(err).code],
  );

describe("TokenVerifier", () => {
  it("verifies a token once and answers it from the cache after, with the same principal", async () => {
    const shops = Array.from({ length: 150 }, (_, i) => shop(i));
    const token = await mint({ sub: "clerk:1", role: "clerk", shops });
    const first = await verifier.verify(token);
    const again = await verifier.verify(`${token}`);
    expect(again).toBe(first);
    expect(first.role).toBe("clerk");
    expect(first.scope !== "all" && first.scope.size).toBe(150);
  });

  it("does not take a forged payload for a cached token whose signature it carries", async () => {
    const token = await mint({ sub: "clerk:2", role: "clerk", shops: [shop(1)] });
    await verifier.verify(token);
    // Same signature tail, another payload: the signature no longer matches.
    const [header, payload, signature] = token.split(".");
    const forged = [
      header,
      Buffer.from(
        JSON.stringify({ ...JSON.parse(Buffer.from(payload, "base64url").toString()), role: "admin" }),
      ).toString("base64url"),
      signature,
    ].join(".");
    expect(await code(verifier.verify(forged))).toBe("Unauthenticated");
  });

  it("refuses expired tokens, other audiences and unsigned tokens", async () => {
    expect(await code(verifier.verify(await mint({ sub: "x", role: "admin" }, -120)))).toBe("Unauthenticated");
    const other = new TokenVerifier(keys, { audience: "another-audience", issuer: DEFAULT_ISSUER, access: ACCESS });
    expect(await code(other.verify(await mint({ sub: "x", role: "admin" })))).toBe("Unauthenticated");
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "x", role: "admin" })).toString("base64url")}.`;
    expect(await code(verifier.verify(none))).toBe("Unauthenticated");
  });
});

describe("the access model's scope rules", () => {
  const answer = async (claims: Parameters<typeof mintToken>[1]) =>
    verifier.verify(await mint(claims)).then(
      (p) => (p.scope === "all" ? "all" : [...p.scope].join(",")),
      (err: unknown) => ConnectError.from(err).rawMessage.split(":")[0],
    );

  it.each([
    [
      "a role that must name its scope, naming it",
      { sub: "c", role: "clerk", shops: [shop(7).toUpperCase()] },
      shop(7),
    ],
    ["a role that must name its scope, without it", { sub: "c", role: "clerk" }, "a clerk token must name its shops"],
    ["a role that may name its scope, without it", { sub: "v", role: "viewer" }, "all"],
    [
      "a role that may name its scope, naming it",
      { sub: "v", role: "viewer", shops: [shop(1), shop(2)] },
      `${shop(1)},${shop(2)}`,
    ],
    [
      "a role acting on all, naming a scope",
      { sub: "a", role: "admin", shops: [shop(1)] },
      "a admin token acts on all shops",
    ],
    ["an empty scope", { sub: "c", role: "clerk", shops: [] }, "the token's shops must be a non-empty list of ids"],
    [
      "a scope that is not ids",
      { sub: "c", role: "clerk", shops: ["one"] },
      "the token's shops must be a non-empty list of ids",
    ],
    ["a role the model does not know", { sub: "x", role: "root" }, "the token has no known role"],
    ["a role named like an object's own key", { sub: "x", role: "constructor" }, "the token has no known role"],
    ["an empty subject", { sub: "", role: "admin" }, "the token's sub claim is missing or invalid"],
  ])("%s", async (_, claims, expected) => {
    expect(await answer(claims)).toBe(expected);
  });
});
