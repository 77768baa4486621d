import { describe, expect, it } from "vitest";
import { refreshAt, TokenCache, tokenTimes } from "./tokens.js";

/** An unsigned JWT with these claims: the SDK reads claims, the server verifies signatures. */
const jwt = (claims: object) =>
  `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.sig`;

describe("tokenTimes / refreshAt", () => {
  it("reads iat and exp, and refreshes at 80% of the life", () => {
    const t = jwt({ iat: 1_000, exp: 1_100 });
    expect(tokenTimes(t)).toEqual({ issuedAt: 1_000, expiresAt: 1_100 });
    expect(refreshAt(t, 0)).toBe(1_080_000);
  });
  it("without iat, measures the life from when it was got", () => {
    expect(refreshAt(jwt({ exp: 200 }), 100_000)).toBe(100_000 + 100_000 * 0.8);
  });
  it("asks again after 5 minutes for a token without exp or not a JWT", () => {
    expect(refreshAt(jwt({ sub: "x" }), 1)).toBe(1 + 300_000);
    expect(tokenTimes("opaque-token")).toBeUndefined();
    expect(refreshAt("opaque-token", 1)).toBe(1 + 300_000);
    expect(tokenTimes("a.%%%.c")).toBeUndefined();
  });
});

describe("TokenCache", () => {
  it("answers from memory until the refresh instant, one source call for concurrent callers", async () => {
    let now = 1_000_000;
    let calls = 0;
    const cache = new TokenCache(
      async () => {
        calls++;
        return jwt({ iat: now / 1000, exp: now / 1000 + 100, n: calls });
      },
      () => now,
    );
    const [a, b] = await Promise.all([cache.get(), cache.get()]);
    expect(a).toBe(b);
    expect(calls).toBe(1);
    now += 79_000;
    expect(await cache.get()).toBe(a);
    now += 2_000; // past 80% of 100 s
    expect(await cache.get()).not.toBe(a);
    expect(calls).toBe(2);
  });
  it("asks at once after invalidate, but not for an older token", async () => {
    let calls = 0;
    const cache = new TokenCache(() => `t${++calls}`);
    const first = await cache.get();
    cache.invalidate("not-the-current-one");
    expect(await cache.get()).toBe(first);
    cache.invalidate(first);
    expect(await cache.get()).toBe("t2");
  });
  it("keeps the old token while it lasts when a refresh fails, then fails", async () => {
    let now = 0;
    let fail = false;
    const cache = new TokenCache(
      async () => {
        if (fail) throw new Error("issuer down");
        return jwt({ iat: 0, exp: 100 });
      },
      () => now,
    );
    const token = await cache.get();
    fail = true;
    now = 90_000;
    expect(await cache.get()).toBe(token);
    now = 101_000;
    await expect(cache.get()).rejects.toThrow(/issuer down/);
  });
});
