import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import {
  bearerInterceptor,
  DEFAULT_ISSUER,
  generateSigningKey,
  mintToken,
  type SigningKey,
  type TokenClaims,
} from "@adbudget/kit";
import { ROLES, SERVICES, WORKER, WORKLOADS, type Workload } from "@adbudget/topology";

/**
 * Keys and tokens of one test system, shaped as production's: each workload signs its identity
 * with a key of its own, registered for its role alone, and the test's token issuer (the stand-in
 * for the agency's) signs the human roles with one registered for those alone. No test trusts
 * another's tokens.
 */
export interface TestAuth {
  /**
   * AUTH_* settings shared by every process of the system (the key set, the audience), with the
   * test issuer's key as AUTH_PRIVATE_KEY_FILE for a process that has no identity of its own.
   */
  env: Record<string, string>;
  /** The settings of one workload: `env` with its own key, the only key that may sign its role. */
  envOf(workload: Workload): Record<string, string>;
  /**
   * A token for `claims`, valid for `ttlSeconds` (default an hour), signed by the key registered
   * for its role: the test issuer's for a person or an ad server, a workload's own for its role
   * (the harness's clocks clients, the access matrix's workload columns).
   */
  mint(claims: TokenClaims, ttlSeconds?: number): Promise<string>;
  /** An admin token (what the harness clients send). */
  adminToken: string;
  /** Client interceptors that send the admin token. */
  admin: Interceptor[];
  /** Client interceptors that send a token for `claims`. */
  as(claims: TokenClaims): Promise<Interceptor[]>;
}

export const TEST_AUDIENCE = "adbudget";

const roleOf = (w: Workload) => (w === WORKER.name ? WORKER.role : SERVICES[w].role);

export async function createTestAuth(): Promise<TestAuth> {
  const dir = mkdtempSync(join(tmpdir(), "adbudget-keys-"));
  const stamp = Date.now().toString(36);
  const workloadRoles = new Set<string>(WORKLOADS.map(roleOf));
  const issuer = await generateSigningKey(
    `test-issuer-${stamp}`,
    ROLES.filter((r) => !workloadRoles.has(r)),
  );
  const workloadKeys = await Promise.all(
    WORKLOADS.map(async (w) => ({ w, key: await generateSigningKey(`${w}-${stamp}`, [roleOf(w)]) })),
  );
  const keyOfRole = new Map<string, SigningKey>(workloadKeys.map(({ w, key }) => [roleOf(w), key]));
  const jwksFile = join(dir, "jwks.json");
  writeFileSync(
    jwksFile,
    JSON.stringify({ keys: [issuer, ...workloadKeys.map((k) => k.key)].map((k) => k.publicJwk) }),
  );
  const keyFile = (name: string, jwk: object) => {
    const file = join(dir, `${name}.json`);
    writeFileSync(file, JSON.stringify(jwk), { mode: 0o600 });
    return file;
  };
  const env = {
    AUTH_JWKS_FILE: jwksFile,
    AUTH_PRIVATE_KEY_FILE: keyFile("test-issuer", issuer.privateJwk),
    AUTH_AUDIENCE: TEST_AUDIENCE,
  };
  const ownKeyFiles = new Map(workloadKeys.map(({ w, key }) => [w, keyFile(w, key.privateJwk)]));
  const mint = (claims: TokenClaims, ttlSeconds = 3600) =>
    mintToken((keyOfRole.get(claims.role) ?? issuer).privateJwk, claims, {
      audience: TEST_AUDIENCE,
      issuer: DEFAULT_ISSUER,
      ttlSeconds,
    });
  const adminToken = await mint({ sub: "test:admin", role: "admin" });
  return {
    env,
    envOf: (workload) => {
      const file = ownKeyFiles.get(workload);
      if (file === undefined) throw new Error(`no key of workload ${workload}`);
      return { ...env, AUTH_PRIVATE_KEY_FILE: file };
    },
    mint,
    adminToken,
    admin: [bearerInterceptor(adminToken)],
    async as(claims) {
      return [bearerInterceptor(await mint(claims))];
    },
  };
}
