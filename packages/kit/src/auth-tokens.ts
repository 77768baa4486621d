import { createHash } from "node:crypto";
import { Code, ConnectError } from "@connectrpc/connect";
import { LRUCache } from "lru-cache";
import { errors, jwtVerify } from "jose";
import type { RoleBoundKeys } from "./key-set.js";
import type { AccessModel, Principal } from "./principal.js";
import { CLOCK_SKEW_S, MAX_TOKEN_LIFETIME_S, TOKEN_ALGORITHMS, TOKEN_TYPE, tokenShapeProblem } from "./token-rules.js";

/**
 * Memory for verified tokens: 32 MiB, counted per entry (its key, the entry and principal
 * objects, and the principal's scope ids), so neither many tokens nor tokens scoped to many
 * brands grow the cache past it. Beyond, the least recently used are verified again on their next
 * use. 32 MiB holds about 80,000 principals of a few brands each.
 */
const CACHE_BYTES = 32 * 1024 * 1024;
/** An entry: its 43-character key, the cache's slots, the entry and principal objects (its `sub` counted apart: two bytes a character). */
const ENTRY_BYTES = 400;
/** Each id of a scoped principal: a 36-character string (72 bytes) and its slot in the Set. */
const SCOPE_ID_BYTES = 100;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whom the verifier accepts tokens from and for. */
export interface VerifierOptions {
  /** The `aud` every token must carry. */
  audience: string;
  /** The `iss` every token must carry. */
  issuer: string;
  /** The system's roles and scope claim. */
  access: AccessModel;
}

/**
 * Verifies bearer tokens (JWT, EdDSA or ES256) against a key set chosen by `kid`, so keys rotate
 * without downtime (publish the new key, sign with it, retire the old one). A key signs only the
 * roles it is registered for (key-set.ts): a token of another role is refused, however valid its
 * signature. Before any key is
 * looked up the token must have our shape (token-rules.ts: three canonical base64url parts, a
 * signature of our algorithms' length). Claims: `typ` JWT in the header; `iss`, `aud`, `sub` (a
 * non-empty string), `role` (one of the AccessModel's), its scope claim (a list of ids; absent for
 * roles that act on all), `iat` and `exp` at most a day apart, `jti`. A verified token is cached
 * (lru-cache, bounded by bytes, keyed by the SHA-256 of the whole token) until it expires: a call
 * with a token seen before costs a hash and a lookup, not a signature.
 */
export class TokenVerifier {
  /**
   * Verified tokens by the SHA-256 of the whole token: a fixed-size key however long the token
   * (a Map hashes its string keys: a 6 KiB key cost 16 µs a lookup), and no two tokens share one.
   */
  private readonly cache = new LRUCache<string, Principal>({
    maxSize: CACHE_BYTES,
    sizeCalculation: (principal) =>
      ENTRY_BYTES + principal.sub.length * 2 + (principal.scope === "all" ? 0 : principal.scope.size * SCOPE_ID_BYTES),
  });

  constructor(
    private readonly keys: RoleBoundKeys,
    private readonly options: VerifierOptions,
  ) {}

  /** Bytes the cache counts now (never above its 32 MiB): what the flood tests watch. */
  get cachedBytes(): number {
    return this.cache.calculatedSize;
  }

  /** The principal of `token`, or a ConnectError UNAUTHENTICATED saying why not. */
  async verify(token: string): Promise<Principal> {
    const shape = tokenShapeProblem(token);
    if (shape !== undefined) throw unauthenticated(shape);
    const key = createHash("sha256").update(token).digest("base64url");
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    let payload, kid;
    try {
      ({
        payload,
        protectedHeader: { kid },
      } = await jwtVerify(token, this.keys.getKey, {
        audience: this.options.audience,
        issuer: this.options.issuer,
        typ: TOKEN_TYPE,
        algorithms: TOKEN_ALGORITHMS,
        requiredClaims: ["iss", "sub", "exp", "iat", "jti"],
        clockTolerance: CLOCK_SKEW_S,
        maxTokenAge: MAX_TOKEN_LIFETIME_S,
      }));
    } catch (err) {
      throw unauthenticated(reasonOf(err));
    }
    // jwtVerify requires both (requiredClaims) and checks they are numbers; Infinity is one.
    const { iat = 0, exp = 0 } = payload;
    if (!Number.isFinite(exp) || exp - iat > MAX_TOKEN_LIFETIME_S)
      throw unauthenticated(`the token lives longer than ${MAX_TOKEN_LIFETIME_S} s (a day)`);
    const principal = principalFrom(payload, this.options.access, exp * 1000);
    // After the signature: the roles of a key that signed nothing are no one's business.
    if (kid === undefined || !this.keys.rolesOf(kid).includes(principal.role))
      throw unauthenticated(`the key ${JSON.stringify(kid ?? "")} is not registered to sign ${principal.role} tokens`);
    // Kept until the token expires (the cache drops it then: an expired token is verified again, and refused).
    const ttl = exp * 1000 - Date.now();
    if (ttl > 0) this.cache.set(key, principal, { ttl });
    return principal;
  }
}

/** The principal a verified token's claims describe (refused when they make no sense). */
function principalFrom(payload: Record<string, unknown>, access: AccessModel, expiresAt: number): Principal {
  const { role, sub } = payload;
  const scoping = typeof role === "string" && Object.hasOwn(access.roles, role) ? access.roles[role] : undefined;
  if (typeof role !== "string" || scoping === undefined) throw unauthenticated("the token has no known role");
  if (typeof sub !== "string" || sub === "") throw unauthenticated("the token's sub claim is missing or invalid");
  const claim = access.scopeClaim;
  const ids = payload[claim];
  if (ids === undefined) {
    if (scoping === "must-name") throw unauthenticated(`a ${role} token must name its ${claim}`);
    return { sub, role, scope: "all", expiresAt };
  }
  if (scoping === "all") throw unauthenticated(`a ${role} token acts on all ${claim}: it must not name ${claim}`);
  if (!isIdList(ids)) throw unauthenticated(`the token's ${claim} must be a non-empty list of ids`);
  return { sub, role, scope: new Set(ids.map((id) => id.toLowerCase())), expiresAt };
}

function isIdList(value: unknown): value is string[] {
  return Array.isArray(value) && value.length > 0 && value.every((id) => typeof id === "string" && UUID.test(id));
}

function reasonOf(err: unknown): string {
  if (err instanceof errors.JWTExpired)
    return err.claim === "iat" ? `the token is older than ${MAX_TOKEN_LIFETIME_S} s (a day)` : "the token has expired";
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === "missing") return `the token has no ${err.claim} claim`;
    if (err.claim === "iat") return "the token is not valid yet (issued in the future)";
    if (err.claim === "aud") return "the token is for another audience";
    if (err.claim === "nbf") return "the token is not valid yet";
    if (err.claim === "iss") return "the token is from another issuer";
    if (err.claim === "typ") return "the token's typ header is not JWT";
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
