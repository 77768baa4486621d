import { describe, expect, it } from "vitest";
import { parseTokenArgs, usage, type RoleRules } from "./token-args.ts";

/** The roles as the access policy has them; the parser is given them, it does not import them. */
const rules: RoleRules = {
  roles: ["admin", "brand-manager", "ad-server", "viewer", "clocks"],
  mustNameBrands: new Set(["brand-manager", "ad-server"]),
  mayNameBrands: new Set(["brand-manager", "ad-server", "viewer"]),
  maxTtlSeconds: 86_400,
};
const BRAND = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b";
const parse = (...argv: string[]) => parseTokenArgs(argv, rules);
const error = (...argv: string[]) => {
  const args = parse(...argv);
  if (args.kind !== "usage-error") throw new Error(`expected a usage error, got ${JSON.stringify(args)}`);
  return args.message;
};

describe("npm run token's command line", () => {
  it("mints with defaults: an hour, the subject cli:<role>", () => {
    expect(parse("--role", "admin")).toEqual({
      kind: "mint",
      request: { role: "admin", brands: [], ttl: "1h", ttlSeconds: 3600, sub: "cli:admin" },
    });
  });

  it("takes repeated brands, a ttl and a subject", () => {
    const other = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c";
    expect(
      parse("--role", "ad-server", "--brand", BRAND, "--brand", other, "--ttl", "90s", "--sub", "adserver-1"),
    ).toEqual({
      kind: "mint",
      request: { role: "ad-server", brands: [BRAND, other], ttl: "90s", ttlSeconds: 90, sub: "adserver-1" },
    });
    expect(parse("--role", "viewer", "--ttl", "1d")).toMatchObject({ request: { ttlSeconds: 86_400 } });
    expect(parse("--role", "viewer", "--ttl", "24h")).toMatchObject({ request: { ttlSeconds: 86_400 } });
  });

  it("answers --help and -h with the usage, whatever else is on the line", () => {
    expect(parse("--help")).toEqual({ kind: "help" });
    expect(parse("--role", "nope", "-h")).toEqual({ kind: "help" });
    const text = usage(rules);
    expect(text).toMatch(/^usage: npm run -s token -- --role <role>/);
    expect(text).toContain("admin, brand-manager, ad-server, viewer, clocks");
    expect(text).toContain(
      "Exit codes: 0 token printed, 2 the command line is wrong, 1 the signing key could not be used.",
    );
  });

  it("names an empty shell variable after --brand instead of node's 'ambiguous' error", () => {
    // `--brand $BRAND --sub alice` with BRAND empty (its CreateBrand failed), and at the end of the line.
    expect(error("--role", "brand-manager", "--brand", "--sub", "alice")).toBe(
      "--brand needs a value (a brand id; is the variable that should hold it empty?)",
    );
    expect(error("--role", "brand-manager", "--brand")).toBe(
      "--brand needs a value (a brand id; is the variable that should hold it empty?)",
    );
    // `--brand "$BRAND"` with BRAND empty.
    expect(error("--role", "brand-manager", "--brand", "")).toMatch(/^--brand "" is not a brand id/);
    expect(error("--role", "brand-manager", "--brand", "null")).toMatch(/^--brand "null" is not a brand id/);
  });

  it.each([
    [["--ttl", "1h"], "--role is required"],
    [["--role"], "--role needs a value"],
    [["--role", "root"], '--role "root" is not a role; roles: admin, brand-manager, ad-server, viewer, clocks'],
    [["--role", "ad-server"], "an ad-server token names its brands: add --brand <id>"],
    [["--role", "admin", "--brand", BRAND], "an admin token acts on all brands: leave out --brand"],
    [["--role", "admin", "--ttl", "1 hour"], '--ttl "1 hour" is not a duration: use 90s, 30m, 1h or 24h'],
    [["--role", "admin", "--ttl", "0h"], '--ttl "0h" is not a duration: use 90s, 30m, 1h or 24h'],
    [
      ["--role", "admin", "--ttl", "25h"],
      "--ttl 25h is longer than the services accept: at most 24h (mint a new token when it expires)",
    ],
    [
      ["--role", "admin", "--ttl", "876000h"],
      "--ttl 876000h is longer than the services accept: at most 24h (mint a new token when it expires)",
    ],
    [["--role", "admin", "--sub", " "], "--sub must not be empty"],
  ])("refuses %j: %s", (argv, message) => {
    expect(error(...argv)).toBe(message);
  });

  it("passes node's clear words for unknown options and stray arguments", () => {
    expect(error("--role", "admin", "--brands", BRAND)).toMatch(/Unknown option '--brands'/);
    expect(error("--role", "admin", "extra")).toMatch(/Unexpected argument 'extra'/);
  });
});
