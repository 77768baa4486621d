import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "./errors.js";
import { decodePageToken, encodePageToken, pageSize } from "./paging.js";

describe("page tokens", () => {
  it("round-trip the sort key for the same filter", () => {
    const token = encodePageToken("01900000-0000-7000-8000-000000000001", { brand: "a" });
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodePageToken(token, { brand: "a" })).toBe("01900000-0000-7000-8000-000000000001");
    expect(decodePageToken("", { brand: "a" })).toBeUndefined();
  });

  it.each([
    ["another filter", () => decodePageToken(encodePageToken("x", { brand: "a" }), { brand: "b" })],
    ["garbage", () => decodePageToken("%%%", {})],
    ["valid base64 of nothing useful", () => decodePageToken("AAAA", {})],
    // Tokens are not signed: anyone can compute a filter's hash and forge a key that would fail
    // its query as a type error (INTERNAL) without this check.
    [
      "a forged key of the right filter",
      () => decodePageToken(encodePageToken("1' or 1=1", { brand: "a" }), { brand: "a" }),
    ],
    [
      "a key of another shape",
      () => decodePageToken(encodePageToken("2026-01-01|x", { b: "a" }), { b: "a" }, /^\d{4}-\d{2}-\d{2}\|\d+$/),
    ],
  ])("refuse %s with INVALID_ARGUMENT on page_token", (_name, decode) => {
    expect(decode).toThrow(InvalidArgumentError);
    try {
      decode();
    } catch (err) {
      expect((err as InvalidArgumentError).violations[0]?.field).toBe("page_token");
    }
  });

  it("default and cap page sizes", () => {
    expect(pageSize(0)).toBe(50);
    expect(pageSize(7)).toBe(7);
    expect(pageSize(5000)).toBe(1000);
  });
});
