import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { CompactSign, importJWK, jwtVerify, type JSONWebKeySet, type JWK } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { TokenVerifier } from "./auth-tokens.js";
import { ensureDevKeys } from "./dev-keys.js";
import { localKeys, type RoleBoundKeys } from "./key-set.js";
import type { AccessModel } from "./principal.js";
import { mintToken } from "./token-minting.js";
import { DEFAULT_ISSUER, MAX_TOKEN_LIFETIME_S, tokenShapeProblem } from "./token-rules.js";

/**
 * What a hostile holder of one valid token, or of a trusted signing key, tries (issue 22, access
 * hardening): other spellings of the same token to fill the cache, and claims that make no sense.
 */
const AUDIENCE = "kit-test";
const ACCESS: AccessModel = { roles: { viewer: "may-name", admin: "all" }, scopeClaim: "shops" };
let keys: RoleBoundKeys;
let signingKey: JWK;
let verifier: TokenVerifier;

beforeAll(async () => {
  const { jwksFile, privateJwk } = await ensureDevKeys(mkdtempSync(join(tmpdir(), "adbudget-rules-")), [
    "viewer",
    "admin",
  ]);
  signingKey = privateJwk;
  keys = localKeys(JSON.parse(readFileSync(jwksFile, "utf8")) as JSONWebKeySet);
  verifier = new TokenVerifier(keys, { audience: AUDIENCE, issuer: DEFAULT_ISSUER, access: ACCESS });
});

const viewerToken = () =>
  mintToken(signingKey, { sub: "v", role: "viewer" }, { audience: AUDIENCE, issuer: DEFAULT_ISSUER, ttlSeconds: 600 });

/** Why `verify` refused `token` (the reason before the hint), or "OK". */
const answer = (token: string) =>
  verifier.verify(token).then(
    () => "OK",
    (err: unknown) => {
      const e = ConnectError.from(err);
      return e.code === Code.Unauthenticated ? e.rawMessage.split(": send")[0] : `code ${Code[e.code]}`;
    },
  );

/** `token` with a space before each of `positions` of its signature part (positions ascending). */
function spaced(token: string, positions: number[]): string {
  const cut = token.lastIndexOf(".") + 1;
  let signature = token.slice(cut);
  for (const p of [...positions].reverse()) signature = `${signature.slice(0, p)} ${signature.slice(p)}`;
  return token.slice(0, cut) + signature;
}

/** Canonical base64url of a header and a payload (what the cases below vary is the rest). */
const H = Buffer.from('{"alg":"EdDSA","typ":"JWT"}').toString("base64url");
const P = Buffer.from('{"sub":"v"}').toString("base64url");

describe("a token's shape, before any key is looked up", () => {
  it.each([
    ["two parts", "a.b", "the token is not three dot-separated parts"],
    ["four parts", "a.b.c.d", "the token is not three dot-separated parts"],
    ["padding", `${H}.${P}.${"A".repeat(84)}==`, "the token is not base64url (A-Z a-z 0-9 - _, no padding or spaces)"],
    [
      "a space",
      `${H}.${P}.${"A".repeat(43)} ${"A".repeat(43)}`,
      "the token is not base64url (A-Z a-z 0-9 - _, no padding or spaces)",
    ],
    [
      "standard base64",
      `${H}.${P}.${"A".repeat(85)}+`,
      "the token is not base64url (A-Z a-z 0-9 - _, no padding or spaces)",
    ],
    // 86 characters carry 516 bits for a 512-bit signature: the last 4 must be zero.
    ["unused bits set", `${H}.${P}.${"A".repeat(85)}B`, "the token is not canonical base64url"],
    ["a short signature", `${H}.${P}.${"A".repeat(84)}`, "the token's signature is not 86 characters"],
    ["an empty payload", `${H}..${"A".repeat(86)}`, "the token has an empty part"],
    ["no signature (alg none)", `${H}.${P}.`, "the token has an empty part"],
    ["16 KiB and one", `${H}.${"A".repeat(16_384)}.${"A".repeat(86)}`, "the token is longer than 16384 characters"],
    ["the shape itself", `${H}.${P}.${"A".repeat(86)}`, undefined],
  ])("%s: refused", (_, token, problem) => {
    expect(tokenShapeProblem(token)).toBe(problem);
  });

  it("a token we mint has the shape", async () => {
    expect(tokenShapeProblem(await viewerToken())).toBeUndefined();
  });
});

describe("10,000 spellings of one valid token", () => {
  it("are each refused, and the cache of verified tokens does not grow by a byte", async () => {
    const token = await viewerToken();
    expect(await answer(token)).toBe("OK");
    const cached = verifier.cachedBytes;
    expect(cached).toBeGreaterThan(0);

    // The fault is real: the signature's decoder skips the spaces, so a spelling verifies when
    // only the signature decides (what the verifier did before it checked the shape first).
    expect((await jwtVerify(spaced(token, [10, 40]), keys.getKey, { audience: AUDIENCE })).payload.sub).toBe("v");

    // Three spaces at positions a <= b <= c of the 86: far more than 10,000 ways.
    const spellings = new Set<string>();
    for (let a = 0; a < 86 && spellings.size < 10_000; a++)
      for (let b = a; b < 86 && spellings.size < 10_000; b++)
        for (let c = b; c < 86 && spellings.size < 10_000; c++) spellings.add(spaced(token, [a, b, c]));
    expect(spellings.size).toBe(10_000);
    const answers = new Map<string, number>();
    for (const s of spellings) {
      const why = await answer(s);
      answers.set(why, (answers.get(why) ?? 0) + 1);
    }
    expect(Object.fromEntries(answers)).toEqual({
      "the token is not base64url (A-Z a-z 0-9 - _, no padding or spaces)": 10_000,
    });
    expect(verifier.cachedBytes).toBe(cached);
  });
});

/** A token over `payload` written as it is (any JSON, even 1e400), signed with the trusted key. */
async function signedRaw(payload: string, header: Record<string, unknown> = { typ: "JWT" }): Promise<string> {
  const { alg = "", kid } = signingKey;
  return new CompactSign(new TextEncoder().encode(payload))
    .setProtectedHeader({ ...header, alg, kid })
    .sign(await importJWK(signingKey, alg));
}

describe("claims a holder of a trusted key could write", () => {
  const now = () => Math.floor(Date.now() / 1000);
  const claims = (over: Record<string, unknown>) =>
    JSON.stringify({
      iss: DEFAULT_ISSUER,
      aud: AUDIENCE,
      sub: "v",
      role: "viewer",
      iat: now(),
      exp: now() + 600,
      jti: "j",
      ...over,
    });

  it.each([
    ["well-formed (the baseline)", () => signedRaw(claims({})), "OK"],
    ["sub empty", () => signedRaw(claims({ sub: "" })), "the token's sub claim is missing or invalid"],
    ["sub a number", () => signedRaw(claims({ sub: 12345 })), "the token's sub claim is missing or invalid"],
    ["sub an object", () => signedRaw(claims({ sub: {} })), "the token's sub claim is missing or invalid"],
    [
      "exp 1e400 (Infinity)",
      () => signedRaw(claims({}).replace(/"exp":\d+/, '"exp":1e400')),
      `the token lives longer than ${MAX_TOKEN_LIFETIME_S} s (a day)`,
    ],
    [
      "a 100-year lifetime",
      () => signedRaw(claims({ exp: now() + 100 * 365 * 86_400 })),
      `the token lives longer than ${MAX_TOKEN_LIFETIME_S} s (a day)`,
    ],
    [
      "issued 25 hours ago, still unexpired",
      () => signedRaw(claims({ iat: now() - 25 * 3600, exp: now() + 600 })),
      `the token is older than ${MAX_TOKEN_LIFETIME_S} s (a day)`,
    ],
    ["another issuer", () => signedRaw(claims({ iss: "someone-else" })), "the token is from another issuer"],
    ["no issuer", () => signedRaw(claims({ iss: undefined })), "the token has no iss claim"],
    [
      "issued in an hour",
      () => signedRaw(claims({ iat: now() + 3600 })),
      "the token is not valid yet (issued in the future)",
    ],
    ["typ at+jwt", () => signedRaw(claims({}), { typ: "at+jwt" }), "the token's typ header is not JWT"],
    ["no typ", () => signedRaw(claims({}), {}), "the token's typ header is not JWT"],
  ])("%s", async (_, make, expected) => {
    expect(await answer(await make())).toBe(expected);
  });

  it("mintToken will not sign past a day", async () => {
    const opts = { audience: AUDIENCE, issuer: DEFAULT_ISSUER, ttlSeconds: MAX_TOKEN_LIFETIME_S + 1 };
    await expect(mintToken(signingKey, { sub: "v", role: "viewer" }, opts)).rejects.toThrow(/at most 86400 s/);
  });
});
