import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { bearerInterceptor, DEFAULT_ISSUER, generateSigningKey, mintToken, type TokenClaims } from "@adbudget/kit";
import { ROLES, SERVICES, WORKER, WORKLOADS, type Workload } from "@adbudget/topology";

/**
 * Keys and tokens of one test system, shaped as production's: each workload signs its identity
 * with a key of its own, registered for its role alone, and the test's token issuer (the stand-in
 * for the agency's, which the harness's admin, manager, ad-server and clocks clients use) with one
 * registered for every role. No test trusts another's tokens.
 */
export interface TestAuth {
  /**
   * AUTH_* settings shared by every process of the system (the key set, the audience), with the
   * test issuer's key as AUTH_PRIVATE_KEY_FILE for a process that has no identity of its own.
   */
  env: Record<string, string>;
  /** The settings of one workload: `env` with its own key, the only key that may sign its role. */
  envOf(workload: Workload): Record<string, string>;
  /** A token for `claims`, signed by the test issuer, valid for `ttlSeconds` (default an hour). */
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
  const issuer = await generateSigningKey(`test-issuer-${stamp}`, ROLES);
  const workloadKeys = await Promise.all(
    WORKLOADS.map(async (w) => ({ w, key: await generateSigningKey(`${w}-${stamp}`, [roleOf(w)]) })),
  );
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
    mintToken(issuer.privateJwk, claims, { audience: TEST_AUDIENCE, issuer: DEFAULT_ISSUER, ttlSeconds });
  const adminToken = await mint({ sub: "test:admin", role: "admin" });
  return {
    env,
    envOf: (workload) => ({ ...env, AUTH_PRIVATE_KEY_FILE: ownKeyFiles.get(workload) ?? env.AUTH_PRIVATE_KEY_FILE }),
    mint,
    adminToken,
    admin: [bearerInterceptor(adminToken)],
    async as(claims) {
      return [bearerInterceptor(await mint(claims))];
    },
  };
}
