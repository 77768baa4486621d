import { readFileSync } from "node:fs";
import type { JWK } from "jose";
import type { Interceptor } from "@connectrpc/connect";
import type { AccessModel } from "./principal.js";
import { TokenVerifier } from "./auth-tokens.js";
import { isJwks, keySetProblems, localKeys, remoteKeys, rolesOfKey, type RoleBoundKeys } from "./key-set.js";
import { bearerInterceptor, IdentityToken } from "./token-minting.js";
import { DEFAULT_ISSUER } from "./token-rules.js";
import type { EnvReader } from "./config.js";

/** Authentication settings of a workload (service or clocks worker), read once at start. */
export interface AuthConfig {
  /** AUTH_DISABLED=true: no credentials checked or sent (benchmarks, local experiments only). */
  disabled: boolean;
  /** AUTH_AUDIENCE (adbudget): the `aud` every token must carry. */
  audience: string;
  /** AUTH_ISSUER (adbudget): the `iss` every token must carry, and this workload's own carry. */
  issuer: string;
  /** AUTH_JWKS_FILE: the public keys tokens are verified with (a JWKS document). */
  jwksFile: string;
  /** AUTH_JWKS_URL: or fetched from here over https (refreshed on an unknown `kid`). */
  jwksUrl: string;
  /** AUTH_PRIVATE_KEY_FILE: this workload's private JWK (with `kid` and `alg`), to sign its identity. */
  privateKeyFile: string;
}

/**
 * AUTH_JWKS_FILE or AUTH_JWKS_URL (one is required), AUTH_PRIVATE_KEY_FILE (required: every
 * workload calls another one under its own identity), AUTH_AUDIENCE (adbudget), AUTH_ISSUER (adbudget), AUTH_DISABLED
 * (false). Problems go to the reader like every other setting.
 */
export function readAuthConfig(reader: EnvReader): AuthConfig {
  const config: AuthConfig = {
    disabled: reader.bool("AUTH_DISABLED", false),
    audience: reader.string("AUTH_AUDIENCE", "adbudget"),
    issuer: reader.string("AUTH_ISSUER", DEFAULT_ISSUER),
    jwksFile: reader.string("AUTH_JWKS_FILE", ""),
    jwksUrl: reader.string("AUTH_JWKS_URL", ""),
    privateKeyFile: reader.string("AUTH_PRIVATE_KEY_FILE", ""),
  };
  if (config.disabled) return config;
  if ((config.jwksFile === "") === (config.jwksUrl === "")) {
    reader.problems.push(
      "AUTH_JWKS_FILE or AUTH_JWKS_URL: exactly one is required (the public keys of the token signers); npm start makes development keys under .data/keys",
    );
  }
  // Over plain http anyone on the path could hand the services a key of their own: https only.
  if (config.jwksUrl !== "" && !/^https:\/\/[^/]/.test(config.jwksUrl))
    reader.problems.push(`AUTH_JWKS_URL=${JSON.stringify(config.jwksUrl)}: expected an https:// URL`);
  if (config.privateKeyFile === "")
    reader.problems.push(
      "AUTH_PRIVATE_KEY_FILE: required (this workload's private key, to sign the identity it calls other services with)",
    );
  return config;
}

/** What a workload needs to authenticate its callers and itself. */
export interface Auth {
  /** Verifies callers' tokens (undefined when disabled). */
  verifier: TokenVerifier | undefined;
  /** Adds this workload's own identity to outgoing calls (none when disabled). */
  outgoing: Interceptor[];
}

/**
 * Loads the key set and this workload's private key (failing fast with a clear message when a
 * file is missing or not what it should be: a mounted key set must register each key's roles,
 * and this workload's own key its identity's), and makes the verifier of callers' tokens for the
 * system's `access` model and the identity token this workload calls others with (its topology's
 * `identity`, a subject and a role).
 */
export function loadAuth(config: AuthConfig, identity: { sub: string; role: string }, access: AccessModel): Auth {
  if (config.disabled) return { verifier: undefined, outgoing: [] };
  const privateJwk = readJson(config.privateKeyFile, "AUTH_PRIVATE_KEY_FILE") as JWK;
  if (typeof privateJwk.d !== "string" || typeof privateJwk.kid !== "string" || typeof privateJwk.alg !== "string") {
    throw new Error(`AUTH_PRIVATE_KEY_FILE ${config.privateKeyFile}: expected a private JWK with "kid" and "alg"`);
  }
  let keys: RoleBoundKeys;
  if (config.jwksUrl !== "") {
    keys = remoteKeys(new URL(config.jwksUrl));
  } else {
    const doc = readJson(config.jwksFile, "AUTH_JWKS_FILE");
    if (!isJwks(doc)) throw new Error(`AUTH_JWKS_FILE ${config.jwksFile}: not a JWKS document ({"keys": [...]})`);
    const problems = keySetProblems(doc, Object.keys(access.roles));
    const own = doc.keys.find((key) => key.kid === privateJwk.kid);
    if (own === undefined) problems.push(`this workload's key ${JSON.stringify(privateJwk.kid)} is not in it`);
    else if (!rolesOfKey(own).includes(identity.role))
      problems.push(
        `this workload's key ${JSON.stringify(privateJwk.kid)} is not registered for its role ${identity.role}`,
      );
    if (problems.length > 0) throw new Error(`AUTH_JWKS_FILE ${config.jwksFile}:\n  - ${problems.join("\n  - ")}`);
    keys = localKeys(doc);
  }
  const { audience, issuer } = config;
  const token = new IdentityToken(privateJwk, identity, { audience, issuer });
  return {
    verifier: new TokenVerifier(keys, { audience, issuer, access }),
    outgoing: [bearerInterceptor(() => token.token())],
  };
}

function readJson(file: string, setting: string): unknown {
  try {
    return JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`${setting} ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}
