import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Interceptor } from "@connectrpc/connect";
import { bearerInterceptor, DEFAULT_ISSUER, ensureDevKeys, mintToken, type TokenClaims } from "@adbudget/kit";
import { ROLES } from "@adbudget/topology";

/** Keys and tokens of one test system: its own signing key, so no test trusts another's tokens. */
export interface TestAuth {
  /** AUTH_* settings for every process of the system. */
  env: Record<string, string>;
  /** A token for `claims`, valid for `ttlSeconds` (default an hour). */
  mint(claims: TokenClaims, ttlSeconds?: number): Promise<string>;
  /** An admin token (what the harness clients send). */
  adminToken: string;
  /** Client interceptors that send the admin token. */
  admin: Interceptor[];
  /** Client interceptors that send a token for `claims`. */
  as(claims: TokenClaims): Promise<Interceptor[]>;
}

export const TEST_AUDIENCE = "adbudget";

export async function createTestAuth(): Promise<TestAuth> {
  const dir = mkdtempSync(join(tmpdir(), "adbudget-keys-"));
  const { jwksFile, privateKeyFile, privateJwk } = await ensureDevKeys(dir, ROLES);
  const mint = (claims: TokenClaims, ttlSeconds = 3600) =>
    mintToken(privateJwk, claims, { audience: TEST_AUDIENCE, issuer: DEFAULT_ISSUER, ttlSeconds });
  const adminToken = await mint({ sub: "test:admin", role: "admin" });
  return {
    env: { AUTH_JWKS_FILE: jwksFile, AUTH_PRIVATE_KEY_FILE: privateKeyFile, AUTH_AUDIENCE: TEST_AUDIENCE },
    mint,
    adminToken,
    admin: [bearerInterceptor(adminToken)],
    async as(claims) {
      return [bearerInterceptor(await mint(claims))];
    },
  };
}
