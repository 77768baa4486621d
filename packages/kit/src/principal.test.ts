import { describe, expect, it } from "vitest";
import { inScope, type Principal } from "./principal.js";

const OWN = "01900000-0000-7000-8000-0000000000aa";
const clerk: Principal = { sub: "c", role: "clerk", scope: new Set([OWN]), expiresAt: Date.now() + 60_000 };

describe("inScope", () => {
  it.each([
    ["its own id", clerk, OWN, true],
    ["its own id in upper case (the API takes UUIDs in either case)", clerk, OWN.toUpperCase(), true],
    ["another id", clerk, "01900000-0000-7000-8000-0000000000bb", false],
    [
      "any id, for a principal of all",
      { ...clerk, scope: "all" as const },
      "01900000-0000-7000-8000-0000000000bb",
      true,
    ],
    ["any id, with authentication off", undefined, "01900000-0000-7000-8000-0000000000bb", true],
  ])("%s", (_name, p, id, expected) => {
    expect(inScope(p, id)).toBe(expected);
  });
});
