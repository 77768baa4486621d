import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ensureWorkloadKeys } from "./dev-keys.js";
import { isJwks, rolesOfKey } from "./key-set.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const WORKLOADS = [
  { name: "brand", role: "brand-service" },
  { name: "clocks", role: "clocks" },
];
const ROLES = ["admin", "ad-server", "brand-service", "clocks"];
const kidOf = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as { kid: string }).kid;

describe("ensureWorkloadKeys", () => {
  it("gives each workload a key for its role alone and the issuer the other roles; kept when whole", async () => {
    const dir = mkdtempSync(join(tmpdir(), "adbudget-wkeys-"));
    dirs.push(dir);
    const keys = await ensureWorkloadKeys(dir, WORKLOADS, ROLES);
    const doc: unknown = JSON.parse(readFileSync(keys.jwksFile, "utf8"));
    if (!isJwks(doc)) throw new Error("not a JWKS");
    const rolesOf = (file: string) => rolesOfKey(doc.keys.find((k) => k.kid === kidOf(file)) ?? {});
    expect(rolesOf(keys.workloadKeyFile("brand"))).toEqual(["brand-service"]);
    expect(rolesOf(keys.workloadKeyFile("clocks"))).toEqual(["clocks"]);
    expect([...rolesOf(keys.privateKeyFile)].sort()).toEqual(["ad-server", "admin"]);
    const before = kidOf(keys.workloadKeyFile("brand"));
    await ensureWorkloadKeys(dir, WORKLOADS, ROLES);
    expect(kidOf(keys.workloadKeyFile("brand")), "a whole set is kept").toBe(before);
    rmSync(keys.workloadKeyFile("clocks"));
    await ensureWorkloadKeys(dir, WORKLOADS, ROLES);
    expect(kidOf(keys.workloadKeyFile("brand")), "a set missing a key is made anew").not.toBe(before);
  });
});
