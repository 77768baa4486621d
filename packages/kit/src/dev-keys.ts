import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { isJwks, KEY_ROLES, rolesOfKey } from "./key-set.js";

/** A token-signing key: the private JWK (kept by its workload) and its public half (in the JWKS). */
export interface SigningKey {
  privateJwk: JWK;
  publicJwk: JWK;
}

/**
 * A new Ed25519 signing key with key id `kid` (EdDSA: small, fast, no parameter choices),
 * registered to sign `roles` only (key-set.ts).
 */
export async function generateSigningKey(kid: string, roles: readonly string[]): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519", extractable: true });
  const meta = { kid, alg: "EdDSA", use: "sig", [KEY_ROLES]: [...roles] };
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
 * The development key set of `dir` (npm start: .data/keys), made on first use: one signing key,
 * registered for every role in `roles`, that every local process signs its identity with, and the
 * JWKS every process verifies with. Production uses a key per workload, registered for that
 * workload's role only, and the user-token issuer's for the human roles (mounted Secrets).
 * A key set from before keys named their roles, or for other roles, is made anew.
 */
export async function ensureDevKeys(
  dir: string,
  roles: readonly string[],
): Promise<{ jwksFile: string; privateKeyFile: string; privateJwk: JWK }> {
  const files = keyFiles(dir);
  const existing = readDevKeys(files);
  if (existing !== undefined && sameRoles(rolesOfKey(existing.publicJwk), roles)) {
    return { ...files, privateJwk: existing.privateJwk };
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // A kid of its own (two processes making keys at once each have theirs: a pair mixed from both
  // is found by kid and made anew), and each file written whole, by rename.
  const key = await generateSigningKey(
    `dev-${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString("hex")}`,
    roles,
  );
  writeWhole(files.privateKeyFile, JSON.stringify(key.privateJwk, null, 2), 0o600);
  writeWhole(files.jwksFile, JSON.stringify({ keys: [key.publicJwk] }, null, 2), 0o644);
  return { ...files, privateJwk: key.privateJwk };
}

function writeWhole(file: string, text: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, file);
}

/** The key pair of `files`, when both are there, readable and each other's halves (by kid). */
function readDevKeys(files: { jwksFile: string; privateKeyFile: string }): SigningKey | undefined {
  try {
    const privateJwk = JSON.parse(readFileSync(files.privateKeyFile, "utf8")) as JWK;
    const doc: unknown = JSON.parse(readFileSync(files.jwksFile, "utf8"));
    const publicJwk = isJwks(doc) ? doc.keys.find((key) => key.kid === privateJwk.kid) : undefined;
    return publicJwk && { privateJwk, publicJwk };
  } catch {
    return undefined;
  }
}

function sameRoles(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && b.every((role) => a.includes(role));
}

/**
 * The key set of a production-shaped system of this machine (`TOPOLOGY=production npm start`:
 * .data/production/keys), made on first use as production's is: a key per workload, registered
 * for that workload's role alone (`<workload>.json`), and an issuer key for the other roles
 * (`signing-key.json`: the stand-in for the agency's token issuer, what `npm run token` signs
 * with), all public halves in `jwks.json`. A set missing any of them is made anew.
 */
export async function ensureWorkloadKeys(
  dir: string,
  workloads: readonly { name: string; role: string }[],
  roles: readonly string[],
): Promise<{ jwksFile: string; privateKeyFile: string; workloadKeyFile: (name: string) => string }> {
  const files = keyFiles(dir);
  const workloadKeyFile = (name: string) => join(dir, `${name}.json`);
  const wanted = [
    { file: files.privateKeyFile, roles: roles.filter((r) => !workloads.some((w) => w.role === r)) },
    ...workloads.map((w) => ({ file: workloadKeyFile(w.name), roles: [w.role] })),
  ];
  const present = wanted.map((k) => readDevKeys({ jwksFile: files.jwksFile, privateKeyFile: k.file }));
  const whole = present.every(
    (key, i) => key !== undefined && sameRoles(rolesOfKey(key.publicJwk), wanted[i]?.roles ?? []),
  );
  if (!whole) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const stamp = `${new Date().toISOString().slice(0, 10)}-${randomBytes(4).toString("hex")}`;
    const keys = await Promise.all(wanted.map((k, i) => generateSigningKey(`prod-${i}-${stamp}`, k.roles)));
    for (const [i, k] of wanted.entries()) {
      const key = keys[i];
      if (key !== undefined) writeWhole(k.file, JSON.stringify(key.privateJwk, null, 2), 0o600);
    }
    writeWhole(files.jwksFile, JSON.stringify({ keys: keys.map((k) => k.publicJwk) }, null, 2), 0o644);
  }
  return { ...files, workloadKeyFile };
}
