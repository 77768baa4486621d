import {
  createLocalJWKSet,
  createRemoteJWKSet,
  type JSONWebKeySet,
  type JWK,
  type JWTVerifyGetKey,
  type RemoteJWKSetOptions,
} from "jose";

/**
 * The JWK member that registers the roles a key may sign. RFC 7517 §4 lets a JWK carry members
 * of its own, and the JWKS is what an operator already publishes and rotates: the registration
 * travels with the key, so a key and what it may do cannot drift apart in two files.
 */
export const KEY_ROLES = "roles";

/**
 * Token verification keys, each bound to the roles it is registered for: a workload's key signs
 * its own identity only, the user-token issuer's key the human roles. One leaked workload key is
 * then that workload, not every brand.
 */
export interface RoleBoundKeys {
  /** The key for a token's header (jose's selection by `kid` and `alg`). */
  readonly getKey: JWTVerifyGetKey;
  /** The roles key `kid` may sign; none for an unknown key or one registered for nothing. */
  rolesOf(kid: string): readonly string[];
}

/** A key set from a JWKS document (a mounted file). */
export function localKeys(doc: JSONWebKeySet): RoleBoundKeys {
  return { getKey: createLocalJWKSet(doc), rolesOf: (kid) => rolesIn(doc, kid) };
}

/**
 * A key set fetched from `url` (refetched on an unknown `kid`): a key's roles are read from the
 * document jose holds after it verified the signature (a refetch in between reads the newer one:
 * publish a new key under a new kid, never new material or roles under an old one).
 * `options`: jose's (its defaults: a 30 s cooldown between refetches, 10 min cache).
 */
export function remoteKeys(url: URL, options?: RemoteJWKSetOptions): RoleBoundKeys {
  const remote = createRemoteJWKSet(url, options);
  return {
    getKey: remote,
    rolesOf: (kid) => {
      const doc = remote.jwks();
      return doc === undefined ? [] : rolesIn(doc, kid);
    },
  };
}

/**
 * The roles of key `kid` in `doc`: none unless exactly one key has that kid. jose chooses a key by
 * kid and type, so with two keys under one kid the signature could be checked with one and the
 * roles read from the other (a workload's Ed25519 key beside an admin-signing EC key "x").
 */
function rolesIn(doc: JSONWebKeySet, kid: string): readonly string[] {
  const keys = doc.keys.filter((key) => key.kid === kid);
  return keys.length === 1 ? rolesOfKey(keys[0]) : [];
}

/** A JWK's registered roles: its own `roles` member when it is a list of strings, else none. */
export function rolesOfKey(key: JWK | undefined): readonly string[] {
  const roles: unknown = key !== undefined && Object.hasOwn(key, KEY_ROLES) ? Reflect.get(key, KEY_ROLES) : undefined;
  return Array.isArray(roles) && roles.every((r) => typeof r === "string") ? [...roles] : [];
}

/** A key set from a JWKS document (a mounted file): `keys`, a list of objects. */
export function isJwks(doc: unknown): doc is JSONWebKeySet {
  if (typeof doc !== "object" || doc === null) return false;
  const keys: unknown = Reflect.get(doc, "keys");
  return Array.isArray(keys) && keys.every((key) => typeof key === "object" && key !== null);
}

/**
 * What is wrong with a JWKS document's keys for a system of `knownRoles`: each needs a unique
 * `kid` (tokens name their key) and a non-empty `roles` list of known roles. Checked at start, so
 * a key set that would refuse every token of a role fails the deployment, not its callers.
 */
export function keySetProblems(doc: JSONWebKeySet, knownRoles: readonly string[]): string[] {
  const problems: string[] = [];
  const kids = new Set<string>();
  doc.keys.forEach((key, i) => {
    const name = typeof key.kid === "string" ? `key ${JSON.stringify(key.kid)}` : `key #${i + 1}`;
    if (typeof key.kid !== "string" || key.kid === "") problems.push(`${name}: no "kid" (tokens name their key)`);
    else if (kids.has(key.kid)) problems.push(`${name}: the kid is used twice`);
    else kids.add(key.kid);
    const roles = rolesOfKey(key);
    if (roles.length === 0)
      problems.push(`${name}: no "${KEY_ROLES}" (the roles it may sign, e.g. ["budget-service"]): it signs nothing`);
    for (const role of roles)
      if (!knownRoles.includes(role)) problems.push(`${name}: unknown role ${JSON.stringify(role)} in "${KEY_ROLES}"`);
  });
  if (doc.keys.length === 0) problems.push("no keys");
  return problems;
}
