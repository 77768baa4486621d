import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError } from "@connectrpc/connect";
import { createLocalJWKSet } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { mintToken, TokenVerifier } from "./auth-tokens.js";
import { ensureDevKeys } from "./dev-keys.js";

const AUDIENCE = "adbudget-test";
let verifier: TokenVerifier;
let mint: (claims: Parameters<typeof mintToken>[1], ttlSeconds?: number) => Promise<string>;

beforeAll(async () => {
  const { jwksFile, privateJwk } = await ensureDevKeys(mkdtempSync(join(tmpdir(), "adbudget-auth-")));
  verifier = new TokenVerifier(createLocalJWKSet(JSON.parse(readFileSync(jwksFile, "utf8"))), AUDIENCE);
  mint = (claims, ttlSeconds = 3600) => mintToken(privateJwk, claims, { audience: AUDIENCE, ttlSeconds });
});

const code = (p: Promise<unknown>) => p.then(() => "OK", (err: unknown) => Code[ConnectError.from(err).code]);

describe("TokenVerifier", () => {
  it("verifies a token once and answers it from the cache after, with the same principal", async () => {
    const brands = Array.from({ length: 150 }, (_, i) => `01900000-0000-7000-8000-${String(i).padStart(12, "0")}`);
    const token = await mint({ sub: "ad:1", role: "ad-server", brands });
    const first = await verifier.verify(token);
    const again = await verifier.verify(`${token}`);
    expect(again).toBe(first);
    expect(first.role).toBe("ad-server");
    expect(first.brands !== "all" && first.brands.size).toBe(150);
  });

  it("does not take a different token for a cached one that ends the same (the cache key is the tail)", async () => {
    const token = await mint({ sub: "ad:2", role: "ad-server", brands: ["01900000-0000-7000-8000-000000000001"] });
    await verifier.verify(token);
    // Same signature tail, another payload: the signature no longer matches.
    const [header, payload, signature] = token.split(".");
    const forged = [header, Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(payload!, "base64url").toString()), role: "admin" })).toString("base64url"), signature].join(".");
    expect(forged.slice(-48)).toBe(token.slice(-48));
    expect(await code(verifier.verify(forged))).toBe("Unauthenticated");
  });

  it("refuses expired tokens, other audiences and unsigned tokens", async () => {
    expect(await code(verifier.verify(await mint({ sub: "x", role: "admin" }, -120)))).toBe("Unauthenticated");
    const other = new TokenVerifier((verifier as unknown as { keys: never }).keys, "another-audience");
    expect(await code(other.verify(await mint({ sub: "x", role: "admin" })))).toBe("Unauthenticated");
    const none = `${Buffer.from(JSON.stringify({ alg: "none" })).toString("base64url")}.${Buffer.from(JSON.stringify({ sub: "x", role: "admin" })).toString("base64url")}.`;
    expect(await code(verifier.verify(none))).toBe("Unauthenticated");
  });
});
