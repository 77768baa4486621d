import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair, type JWK } from "jose";

/** A token-signing key: the private JWK (kept by its workload) and its public half (in the JWKS). */
export interface SigningKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

/** A new Ed25519 signing key with key id `kid` (EdDSA: small, fast, no parameter choices). */
export async function generateSigningKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const meta = { kid, alg: "EdDSA", use: "sig" };
  return {
    privateJwk: { ...(await exportJWK(privateKey)), ...meta },
    publicJwk: { ...(await exportJWK(publicKey)), ...meta },
  };
}

/** Where a development or test key set lives in `dir`. */
export function keyFiles(dir: string): { jwksFile: string; privateKeyFile: string } {
  return { jwksFile: join(dir, "jwks.json"), privateKeyFile: join(dir, "signing-key.json") };
}

/**
 * The development key set of `dir` (npm start: .data/keys), made on first use: one signing key
 * that every local process signs its identity with, and the JWKS every process verifies with.
 * Production uses a key per workload, from configuration (mounted Secrets).
 */
export async function ensureDevKeys(
  dir: string,
): Promise<{ jwksFile: string; privateKeyFile: string; privateJwk: JWK }> {
  const files = keyFiles(dir);
  try {
    return { ...files, privateJwk: JSON.parse(readFileSync(files.privateKeyFile, "utf8")) as JWK };
  } catch {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const key = await generateSigningKey(`dev-${new Date().toISOString().slice(0, 10)}`);
    writeFileSync(files.privateKeyFile, JSON.stringify(key.privateJwk, null, 2), { mode: 0o600 });
    writeFileSync(files.jwksFile, JSON.stringify({ keys: [key.publicJwk] }, null, 2));
    return { ...files, privateJwk: key.privateJwk };
  }
}
