import { JitterBackoff } from "./backoff.js";

/**
 * Tokens of the SDK's calls. A token source is whatever hands the ad server its token (a file
 * a sidecar rewrites, a call to the agency's issuer, a fixed string in a test); the SDK keeps the
 * token it got and asks again before it expires, so no call and no stream waits on the issuer.
 */
export type TokenSource = () => string | Promise<string>;

/** A fixed token (a test, a script). It is never refreshed: it stops working when it expires. */
export function staticToken(token: string): TokenSource {
  return () => token;
}

/** Without `exp`, a token is asked for again after this long (a source that rotates silently). */
const NO_EXPIRY_REFRESH_MS = 5 * 60_000;
/** Refresh when this share of the token's life has passed: a fifth of it is left for retries. */
const REFRESH_AT_SHARE = 0.8;
/** A failed refresh is tried again after a backoff, 1 s doubling to 30 s, while the old token lasts. */
const RETRY_REFRESH_MIN_MS = 1_000;
const RETRY_REFRESH_MAX_MS = 30_000;

/**
 * The `iat` and `exp` claims (seconds) of a JWT, read without verifying it: the server verifies;
 * the client only needs to know when to refresh. Undefined when the token is not a JWT.
 */
export function tokenTimes(token: string): { issuedAt?: number; expiresAt?: number } | undefined {
  const parts = token.split(".");
  if (parts.length !== 3) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1], "base64url").toString("utf8"));
    if (typeof payload !== "object" || payload === null) return undefined;
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : undefined);
    return {
      issuedAt: "iat" in payload ? num(payload.iat) : undefined,
      expiresAt: "exp" in payload ? num(payload.exp) : undefined,
    };
  } catch {
    return undefined;
  }
}

/** When (ms since the epoch) a token got at `gotAt` should be replaced. */
export function refreshAt(token: string, gotAt: number): number {
  const times = tokenTimes(token);
  if (times?.expiresAt === undefined) return gotAt + NO_EXPIRY_REFRESH_MS;
  const exp = times.expiresAt * 1000;
  const iat = times.issuedAt === undefined ? gotAt : times.issuedAt * 1000;
  return iat + Math.max(0, exp - iat) * REFRESH_AT_SHARE;
}

/**
 * Holds the current token of a source: `get()` answers from memory until the refresh instant,
 * then asks the source once (concurrent callers share the one request). `invalidate()` after an
 * UNAUTHENTICATED answer makes the next `get()` ask at once. A failed refresh keeps the old
 * token while it has not expired, and is tried again a second later.
 */
export class TokenCache {
  private token: string | undefined;
  private refreshAtMs = 0;
  private expiresAtMs = Number.POSITIVE_INFINITY;
  private pending: Promise<string> | undefined;
  private readonly failures = new JitterBackoff(RETRY_REFRESH_MIN_MS, RETRY_REFRESH_MAX_MS, () => 1);

  constructor(
    private readonly source: TokenSource,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    const now = this.now();
    if (this.token !== undefined && now < this.refreshAtMs) return this.token;
    this.pending ??= this.refresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  /**
   * The server refused `token` (or the current one when not named): the next `get()` asks the
   * source. A refusal of an older token, already replaced, changes nothing.
   */
  invalidate(token?: string): void {
    if (token === undefined || token === this.token) this.refreshAtMs = 0;
  }

  private async refresh(): Promise<string> {
    const old = this.token;
    try {
      const token = await this.source();
      if (token === "") throw new Error("the token source answered an empty token");
      const gotAt = this.now();
      this.token = token;
      this.refreshAtMs = refreshAt(token, gotAt);
      const exp = tokenTimes(token)?.expiresAt;
      this.expiresAtMs = exp === undefined ? Number.POSITIVE_INFINITY : exp * 1000;
      this.failures.reset();
      return token;
    } catch (err) {
      if (old !== undefined && this.now() < this.expiresAtMs) {
        this.refreshAtMs = this.now() + this.failures.next();
        return old;
      }
      throw err;
    }
  }
}
