/**
 * What a bearer token must look like and say before its holder is anyone, checked by the
 * verifier (auth-tokens.ts) and obeyed by the minting side (token-minting.ts). One place for the
 * numbers, so a token we mint is never one we refuse.
 */

/** Signature algorithms we accept: asymmetric only (`alg: none` and HMAC are refused). */
export const TOKEN_ALGORITHMS = ["EdDSA", "ES256"];
/**
 * The `iss` of every token the system mints and accepts unless AUTH_ISSUER names another: a
 * token signed for another system with a key that happens to be trusted here is refused.
 */
export const DEFAULT_ISSUER = "adbudget";
/** The `typ` header every token carries (RFC 8725 3.11: a JWT is not confused with another JOSE object). */
export const TOKEN_TYPE = "JWT";
/**
 * The longest a token may live (exp - iat) and the oldest it may be (now - iat): a day. Humans
 * mint one for a working day (`npm run token`, at most `--ttl 24h`); workloads renew theirs every
 * 8 minutes (IdentityToken, 10-minute tokens). A leaked token is worth a day at most, and a
 * 100-year one, or one whose `exp` is 1e400 (Infinity once parsed), is refused outright.
 */
export const MAX_TOKEN_LIFETIME_S = 86_400;
/** A token issued a little in the future still counts (clocks of two machines differ). */
export const CLOCK_SKEW_S = 30;
/**
 * An EdDSA (Ed25519) or ES256 signature is 64 bytes: 86 base64url characters without padding.
 * A signature part of another length cannot be one of ours.
 */
const SIGNATURE_CHARS = 86;
/** Longer tokens are refused unread: ours are a few hundred bytes to a few KiB (a viewer scoped to many brands). */
export const MAX_TOKEN_CHARS = 16_384;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Why `token` is not three strict base64url parts with a signature of our algorithms' length, or
 * undefined when it is. Strict means canonical too: base64 decoders skip spaces and ignore the
 * unused bits of the last character, so one signature has many spellings that all verify, and a
 * cache of verified tokens keyed by the text would hold each of them. Only the one spelling that
 * encodes the bytes back to itself passes. (An ES256 signature (r, s) has a twin (r, n - s) that
 * verifies too, so an ES256 token has two spellings at most; EdDSA signatures have one.)
 */
export function tokenShapeProblem(token: string): string | undefined {
  if (token.length > MAX_TOKEN_CHARS) return `the token is longer than ${MAX_TOKEN_CHARS} characters`;
  // At most 4 pieces: a token of 16 KiB of dots is not split into 16,000 strings.
  const parts = token.split(".", 4);
  if (parts.length !== 3) return "the token is not three dot-separated parts";
  for (const part of parts) {
    if (part === "") return "the token has an empty part";
    if (!BASE64URL.test(part)) return "the token is not base64url (A-Z a-z 0-9 - _, no padding or spaces)";
    if (Buffer.from(part, "base64url").toString("base64url") !== part) return "the token is not canonical base64url";
  }
  if (parts[2]?.length !== SIGNATURE_CHARS) return `the token's signature is not ${SIGNATURE_CHARS} characters`;
  return undefined;
}
