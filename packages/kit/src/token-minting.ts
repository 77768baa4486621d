import { randomUUID } from "node:crypto";
import type { Interceptor } from "@connectrpc/connect";
import { importJWK, SignJWT, type JWK } from "jose";
import { MAX_TOKEN_LIFETIME_S, TOKEN_TYPE } from "./token-rules.js";

/**
 * What a token says about its holder: its subject and role, and any further claims (a scoped
 * role's scope claim, for example), written into the token as they are.
 */
export interface TokenClaims {
  sub: string;
  role: string;
  readonly [claim: string]: unknown;
}

export interface MintOptions {
  audience: string;
  issuer: string;
  /** At most MAX_TOKEN_LIFETIME_S (a day): the verifiers refuse a longer-lived token (a negative one is expired). */
  ttlSeconds: number;
  notBefore?: number;
}

/**
 * Signs a token with a private JWK (with `kid` and `alg`): for humans (`npm run token`), tests,
 * and each internal caller's own identity. It carries what the verifier requires (token-rules.ts):
 * `typ`, `iss`, `aud`, `iat`, `exp` within a day of it, a `jti`.
 */
export async function mintToken(privateJwk: JWK, claims: TokenClaims, options: MintOptions): Promise<string> {
  const { alg, kid } = privateJwk;
  if (alg === undefined || kid === undefined) throw new Error('a signing key needs "alg" and "kid"');
  const { ttlSeconds } = options;
  if (!Number.isInteger(ttlSeconds) || ttlSeconds > MAX_TOKEN_LIFETIME_S)
    throw new Error(`a token lives at most ${MAX_TOKEN_LIFETIME_S} s (a day), in whole seconds: not ${ttlSeconds}`);
  const key = await importJWK(privateJwk, alg);
  const { sub, ...rest } = claims;
  const payload = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
  const jwt = new SignJWT(payload)
    .setProtectedHeader({ alg, kid, typ: TOKEN_TYPE })
    .setSubject(sub)
    .setIssuer(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt()
    .setJti(randomUUID())
    .setExpirationTime(`${ttlSeconds}s`);
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
    private readonly options: { audience: string; issuer: string },
    /** 10 minutes: short enough that a leaked one soon expires, long enough to cost nothing. */
    private readonly ttlSeconds = 600,
  ) {}

  async token(): Promise<string> {
    if (this.current !== undefined && Date.now() < this.current.renewAtMs) return this.current.token;
    this.pending ??= mintToken(this.privateJwk, this.claims, { ...this.options, ttlSeconds: this.ttlSeconds })
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
