/**
 * `npm run token -- --role <role> [--brand <id>]... [--ttl 1h] [--sub <name>]`: a token signed
 * with the development key the running system trusts (.data/keys, made by `npm start` on its
 * first run, or here if missing; AUTH_PRIVATE_KEY_FILE to use another key). The token is the
 * last line printed, so `$(npm run -s token -- --role admin)` works in a shell.
 *
 * A CLI for people: `--help` prints the usage, a wrong command line one line saying what is
 * wrong (exit 2), a key that cannot be used one line naming the file (exit 1). No stack traces:
 * they are for our bugs, and a mistyped flag is not one.
 */
import { readFileSync } from "node:fs";
import type { JWK } from "jose";
import {
  DEFAULT_ISSUER,
  ensureDevKeys,
  keyFiles,
  MAX_TOKEN_LIFETIME_S,
  mintToken,
  rolesOfKey,
  isJwks,
} from "@adbudget/kit";
import { BRAND_SCOPED_ROLES, MAY_NAME_BRANDS, ROLES, type Role } from "@adbudget/topology";
import { parseTokenArgs, usage, type RoleRules } from "./token-args.ts";

const rules: RoleRules = {
  roles: ROLES,
  mustNameBrands: BRAND_SCOPED_ROLES,
  mayNameBrands: MAY_NAME_BRANDS,
  maxTtlSeconds: MAX_TOKEN_LIFETIME_S,
};
const isRole = (role: string): role is Role => ROLES.some((r) => r === role);

/** The key to sign with, or a sentence saying why it cannot be had. */
async function signingKey(): Promise<{ jwk: JWK; file: string } | { error: string }> {
  const file = process.env.AUTH_PRIVATE_KEY_FILE;
  try {
    if (file === undefined || file === "")
      return {
        jwk: (await ensureDevKeys(".data/keys", ROLES)).privateJwk,
        file: keyFiles(".data/keys").privateKeyFile,
      };
    const jwk: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (typeof jwk !== "object" || jwk === null || !("d" in jwk) || !("kid" in jwk)) {
      return { error: `AUTH_PRIVATE_KEY_FILE=${file} is not a private JWK with a kid` };
    }
    return { jwk: jwk as JWK, file };
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return {
      error: file
        ? `cannot read the signing key AUTH_PRIVATE_KEY_FILE=${file}: ${why}`
        : `cannot make or read the development keys in .data/keys: ${why}`,
    };
  }
}

/**
 * The roles `jwk` is registered for in AUTH_JWKS_FILE (none when it is not there), or without
 * that file those the key carries itself (a development key); undefined when nothing says.
 */
function registeredRoles(jwk: JWK): readonly string[] | undefined {
  const file = process.env.AUTH_JWKS_FILE;
  if (file === undefined || file === "") {
    const own = rolesOfKey(jwk);
    return own.length > 0 ? own : undefined;
  }
  try {
    const doc: unknown = JSON.parse(readFileSync(file, "utf8"));
    return isJwks(doc) ? rolesOfKey(doc.keys.find((k) => k.kid === jwk.kid)) : undefined;
  } catch {
    return undefined;
  }
}

async function main(argv: string[]): Promise<number> {
  const args = parseTokenArgs(argv, rules);
  if (args.kind === "help") {
    process.stdout.write(`${usage(rules)}\n`);
    return 0;
  }
  if (args.kind === "usage-error") {
    process.stderr.write(`token: ${args.message}\n(npm run token -- --help for the usage)\n`);
    return 2;
  }
  const { role, brands, ttl, ttlSeconds, sub } = args.request;
  if (!isRole(role)) return 2; // parseTokenArgs checked it against the same list
  const key = await signingKey();
  if ("error" in key) {
    process.stderr.write(`token: ${key.error}\n`);
    return 1;
  }
  // A key registered for other roles signs a token every service refuses: say so instead. The
  // registration is the key set's (AUTH_JWKS_FILE when set; the development key carries its own).
  const keyRoles = registeredRoles(key.jwk);
  if (keyRoles !== undefined && !keyRoles.includes(role)) {
    const may = keyRoles.length > 0 ? `may sign only ${keyRoles.join(", ")} tokens` : "is registered for no role";
    process.stderr.write(`token: the key ${key.jwk.kid} in ${key.file} ${may}, not ${role}\n`);
    return 1;
  }
  let token: string;
  try {
    token = await mintToken(
      key.jwk,
      { sub, role, ...(brands.length > 0 ? { brands } : {}) },
      {
        audience: process.env.AUTH_AUDIENCE || "adbudget",
        issuer: process.env.AUTH_ISSUER || DEFAULT_ISSUER,
        ttlSeconds,
      },
    );
  } catch (err) {
    process.stderr.write(
      `token: cannot sign with the key in ${key.file}: ${err instanceof Error ? err.message : String(err)}\n`,
    );
    return 1;
  }
  process.stderr.write(
    `${role}${brands.length > 0 ? ` of ${brands.join(", ")}` : ""}, valid ${ttl} (key ${key.jwk.kid} in ${key.file})\n`,
  );
  process.stdout.write(`${token}\n`);
  return 0;
}

// A reader that stops early (`npm run token -- --help | head -3`) is not an error of ours.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") throw err;
});
process.exitCode = await main(process.argv.slice(2));
