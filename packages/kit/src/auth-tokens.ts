import { randomUUID } from "node:crypto";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { LRUCache } from "lru-cache";
import { errors, importJWK, jwtVerify, SignJWT, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from "jose";
import type { AccessModel, Principal } from "./principal.js";

/** Signature algorithms we accept: asymmetric only (`alg: none` and HMAC are refused). */
export const TOKEN_ALGORITHMS = ["EdDSA", "ES256"];
/** A token issued a little in the future still counts (clocks of two machines differ). */
const CLOCK_SKEW_S = 30;
/**
 * Memory for verified tokens: 32 MiB, counted by each token's size (a JavaScript string holds
 * two bytes a character) plus its principal, so neither many tokens nor large ones (16 KiB is
 * allowed) grow the cache past it. Beyond, the least recently used are verified again on their
 * next use. 32 MiB holds about 18,000 tokens of 700 characters (1,400 bytes + ENTRY_BYTES each).
 */
const CACHE_BYTES = 32 * 1024 * 1024;
/** An entry beyond its token's characters: the cache's slots, the entry and principal objects, the subject. */
const ENTRY_BYTES = 400;
/** Each id of a scoped principal: a 36-character string (72 bytes) and its slot in the Set. */
const SCOPE_ID_BYTES = 100;
/** Cache key: the signature's tail (an EdDSA or ES256 signature is 86 base64url characters). */
const CACHE_KEY_CHARS = 48;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Verifies bearer tokens (JWT, EdDSA or ES256) against a key set chosen by `kid`, so keys rotate
 * without downtime (publish the new key, sign with it, retire the old one). Claims: `sub`,
 * `role` (one of the AccessModel's), its scope claim (a list of ids; absent for roles that act on
 * all), `aud`, `exp`, `iat`, `jti`. A verified token is
 * cached (lru-cache, bounded by bytes) until it expires: a call with a token seen before costs a
 * lookup, not a signature.
 */
export class TokenVerifier {
  /**
   * Verified tokens by their signature's last characters (a Map hashes its string keys: a
   * 6 KiB token cost 16 µs a lookup, its tail well under one); a hit counts only if the whole
   * token is the same string.
   */
  private readonly cache = new LRUCache<string, { token: string; principal: Principal }>({
    maxSize: CACHE_BYTES,
    sizeCalculation: ({ token, principal }) =>
      token.length * 2 + ENTRY_BYTES + (principal.scope === "all" ? 0 : principal.scope.size * SCOPE_ID_BYTES),
  });

  constructor(
    private readonly keys: JWTVerifyGetKey,
    private readonly audience: string,
    private readonly access: AccessModel,
  ) {}

  /** The principal of `token`, or a ConnectError UNAUTHENTICATED saying why not. */
  async verify(token: string): Promise<Principal> {
    const key = token.slice(-CACHE_KEY_CHARS);
    const hit = this.cache.get(key);
    if (hit !== undefined && hit.token === token) return hit.principal;
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.keys, {
        audience: this.audience,
        algorithms: TOKEN_ALGORITHMS,
        requiredClaims: ["sub", "exp", "iat", "jti"],
        clockTolerance: CLOCK_SKEW_S,
      }));
    } catch (err) {
      throw unauthenticated(reasonOf(err));
    }
    // jwtVerify requires both (requiredClaims) and checks they are numbers.
    const { iat = 0, exp = 0 } = payload;
    if (iat > Date.now() / 1000 + CLOCK_SKEW_S)
      throw unauthenticated("the token is not valid yet (issued in the future)");
    const principal = principalFrom(payload, this.access);
    // Kept until the token expires (the cache drops it then: an expired token is verified again, and refused).
    const ttl = exp * 1000 - Date.now();
    if (ttl > 0) this.cache.set(key, { token, principal }, { ttl });
    return principal;
  }
}

/** The principal a verified token's claims describe (refused when they make no sense). */
function principalFrom(payload: Record<string, unknown>, access: AccessModel): Principal {
  const { role, sub } = payload;
  const scoping = typeof role === "string" && Object.hasOwn(access.roles, role) ? access.roles[role] : undefined;
  if (typeof role !== "string" || scoping === undefined) throw unauthenticated("the token has no known role");
  if (typeof sub !== "string" || sub === "") throw unauthenticated("the token's sub claim is missing or invalid");
  const claim = access.scopeClaim;
  const ids = payload[claim];
  if (ids === undefined) {
    if (scoping === "must-name") throw unauthenticated(`a ${role} token must name its ${claim}`);
    return { sub, role, scope: "all" };
  }
  if (scoping === "all") throw unauthenticated(`a ${role} token acts on all ${claim}: it must not name ${claim}`);
  if (!isIdList(ids)) throw unauthenticated(`the token's ${claim} must be a non-empty list of ids`);
  return { sub, role, scope: new Set(ids.map((id) => id.toLowerCase())) };
}

function isIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((id) => typeof id === "string" && UUID.test(id));
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired) return "the token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === "aud") return "the token is for another audience";
    if (err.claim === "nbf") return "the token is not valid yet";
    return `the token's ${err.claim} claim is missing or invalid`;
  }
  if (err instanceof errors.JWKSNoMatchingKey) return "the token is signed with an unknown key";
  if (err instanceof errors.JWSSignatureVerificationFailed) return "the token's signature is invalid";
  if (err instanceof errors.JOSEAlgNotAllowed) return "the token's algorithm is not allowed";
  return "the token is malformed";
}

function unauthenticated(reason: string): ConnectError {
  return new ConnectError(`${reason}: send a valid token as "authorization: Bearer <token>"`, Code.Unauthenticated);
}

/**
 * What a token says about its holder: its subject and role, and any further claims (a scoped
 * role's scope claim, for example), written into the token as they are.
 */
export interface TokenClaims {
  sub: string;
  role: string;
  readonly [claim: string]: unknown;
}

/**
 * Signs a token with a private JWK (with `kid` and `alg`): for humans (`npm run token`), tests,
 * and each internal caller's own identity.
 */
export async function mintToken(
  privateJwk: JWK,
  claims: TokenClaims,
  options: { audience: string; ttlSeconds: number; notBefore?: number },
): Promise<string> {
  const { alg, kid } = privateJwk;
  if (alg === undefined || kid === undefined) throw new Error('a signing key needs "alg" and "kid"');
  const key = await importJWK(privateJwk, alg);
  const { sub, ...rest } = claims;
  const payload = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg, kid, typ: "JWT" })
    .setSubject(sub)
    .setAudience(options.audience)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(`${options.ttlSeconds}s`);
  if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
  return jwt.sign(key);
}

/**
 * The identity of an internal caller (a service, the clocks worker): a short-lived token it
 * signs for itself and renews before it expires, sent on every call to another service.
 */
export class IdentityToken {
  private current: { token: string; renewAtMs: number } | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly privateJwk: JWK,
    private readonly claims: TokenClaims,
    private readonly audience: string,
    /** 10 minutes: short enough that a leaked one soon expires, long enough to cost nothing. */
    private readonly ttlSeconds = 600,
  ) {}

  async token(): Promise<string> {
    if (this.current !== undefined && Date.now() < this.current.renewAtMs) return this.current.token;
    this.pending ??= mintToken(this.privateJwk, this.claims, { audience: this.audience, ttlSeconds: this.ttlSeconds })
      .then((token) => {
        // Renewed at 80% of its life, so one in flight never expires on the way.
        this.current = { token, renewAtMs: Date.now() + this.ttlSeconds * 800 };
        return token;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}

/** A client interceptor that sends `authorization: Bearer <token>` on every call. */
export function bearerInterceptor(token: string | (() => Promise<string> | string)): Interceptor {
  const get = typeof token === "string" ? () => token : token;
  return (next) => async (req) => {
    req.header.set("authorization", `Bearer ${await get()}`);
    return next(req);
  };
}

/** A key set from a JWKS document (a mounted file). */
export function isJwks(doc: unknown): doc is JSONWebKeySet {
  return typeof doc === "object" && doc !== null && Array.isArray((doc as { keys?: unknown }).keys);
}
