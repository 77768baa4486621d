import { create, type DescMethod, type DescService, type Message } from "@bufbuild/protobuf";
import { durationFromMs, MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { LRUCache } from "lru-cache";
import { RetryInfoSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { ruleOf } from "./method-rules.js";
import type { Now } from "./now.js";
import type { Principal } from "./principal.js";
import { kPrincipal } from "./request-context.js";

/** A token bucket's size: `perSecond` units refilled each second, at most `burst` held. */
export interface Rate {
  readonly perSecond: number;
  readonly burst: number;
}

/**
 * Quotas per caller (the platforms' developer-token quotas): a bucket per principal, sized by its
 * role (a role without one is not limited: the workloads' own identities), and a bucket per scope
 * (the set of ids a scoped principal's token names: one brand's, for the usual token of one
 * brand), shared by every principal naming the same scope.
 */
export interface QuotaModel {
  readonly roles: Readonly<Record<string, Rate>>;
  /** Each scope's bucket (a brand's, whichever of its callers spends it); none: no such limit. */
  readonly perScope?: Rate;
}

/** A token bucket: pure state and arithmetic, on the clock it is handed. */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly rate: Rate,
    nowMs: number,
  ) {
    this.tokens = rate.burst;
    this.at = nowMs;
  }

  /** Refills to `nowMs` (a clock that went back, or is not a number, refills nothing). */
  private refill(nowMs: number): void {
    if (!Number.isFinite(nowMs)) return;
    const elapsed = Math.max(0, nowMs - this.at);
    this.tokens = Math.min(this.rate.burst, this.tokens + (elapsed * this.rate.perSecond) / 1000);
    this.at = Math.max(this.at, nowMs);
  }

  /** Milliseconds until `units` could be taken (0: now); Infinity for more than the burst. */
  waitFor(units: number, nowMs: number): number {
    this.refill(nowMs);
    if (units <= this.tokens) return 0;
    if (units > this.rate.burst) return Infinity;
    return Math.ceil(((units - this.tokens) * 1000) / this.rate.perSecond);
  }

  take(units: number): void {
    this.tokens -= units;
  }
}

/**
 * Memory for buckets: 32 MiB, counted per entry (its key, two bytes a character, and ~200 bytes
 * of bucket and slots), so neither many callers nor long `sub`s or scopes grow it past that:
 * ~100,000 buckets of ordinary keys. A bucket is dropped after 60 s without use (the TTL counts
 * from its last use): it comes back full, which is what it would be by then anyway (an idle
 * bucket refills within `burst / perSecond`, 2 s for the defaults): nothing is lost.
 */
const BUCKET_BYTES = 32 * 1024 * 1024;
const IDLE_TTL_MS = 60_000;

/** The buckets of one server (one replica: see the README on sharing across replicas). */
export class QuotaLimiter {
  private readonly buckets = new LRUCache<string, TokenBucket>({
    maxSize: BUCKET_BYTES,
    sizeCalculation: (_bucket, key) => 200 + key.length * 2,
    ttl: IDLE_TTL_MS,
    updateAgeOnGet: true,
  });
  /** Bucket keys by principal: the verifier hands the same principal for each call of a token. */
  private readonly keys = new WeakMap<Principal, { own: string; scope: string | undefined }>();

  constructor(
    private readonly model: QuotaModel,
    private readonly now: Now,
  ) {}

  /**
   * Takes `units` for `principal` (and its scope) if both buckets have them: all or none. Returns
   * 0, or the milliseconds to wait before the call could pass.
   */
  take(principal: Principal, units: number): number {
    const rate = Object.hasOwn(this.model.roles, principal.role) ? this.model.roles[principal.role] : undefined;
    if (rate === undefined || units <= 0) return 0;
    const nowMs = this.now();
    const keys = this.keysOf(principal);
    const own = this.bucket(keys.own, rate, nowMs);
    const scopeRate = this.model.perScope;
    const scope =
      keys.scope === undefined || scopeRate === undefined ? undefined : this.bucket(keys.scope, scopeRate, nowMs);
    const wait = Math.max(own.waitFor(units, nowMs), scope?.waitFor(units, nowMs) ?? 0);
    if (wait === 0) {
      own.take(units);
      scope?.take(units);
    }
    return wait;
  }

  private keysOf(principal: Principal): { own: string; scope: string | undefined } {
    let keys = this.keys.get(principal);
    if (keys === undefined) {
      const scope = principal.scope === "all" ? undefined : `s:${[...principal.scope].sort().join(",")}`;
      keys = { own: `p:${principal.role}:${principal.sub}`, scope };
      this.keys.set(principal, keys);
    }
    return keys;
  }

  private bucket(key: string, rate: Rate, nowMs: number): TokenBucket {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(rate, nowMs);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }
}

/** A call's cost: 0 without side effects, else its rule's `quota_units` field's length, or 1. */
export function quotaUnits(method: DescMethod, message: Message): number {
  if (method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) return 0;
  const name = ruleOf(method).quotaUnits;
  const field = name === "" ? undefined : method.input.fields.find((f) => f.name === name)?.localName;
  const value: unknown = field === undefined ? undefined : Reflect.get(message, field);
  return Array.isArray(value) ? Math.max(1, value.length) : 1;
}

/**
 * Refuses a call past its caller's quota with RESOURCE_EXHAUSTED and a `google.rpc.RetryInfo`
 * saying when to try again (a batch larger than the burst: never, send smaller batches). Runs
 * after validation, on the parsed request (its cost); streams of the caller are not counted.
 */
export function createQuotaInterceptor(limiter: QuotaLimiter): Interceptor {
  return (next) => async (req) => {
    const principal = req.contextValues.get(kPrincipal);
    if (principal === undefined || req.stream) return next(req);
    const units = quotaUnits(req.method, req.message);
    const waitMs = limiter.take(principal, units);
    if (waitMs === 0) return next(req);
    const never = !Number.isFinite(waitMs);
    throw new ConnectError(
      never
        ? `this call costs ${units} units, more than the quota of ${principal.role} holds at once: split it`
        : `quota of ${principal.role} ${principal.sub} exhausted: retry in ${waitMs} ms`,
      Code.ResourceExhausted,
      undefined,
      never ? [] : [{ desc: RetryInfoSchema, value: create(RetryInfoSchema, { retryDelay: durationFromMs(waitMs) }) }],
    );
  };
}

/**
 * What would make the quotas wrong without a word: a quota field that names no repeated field (a
 * typo would cost 1 a call), a streaming method with side effects (streams are not counted), a
 * rate that is not a positive finite number.
 */
export function checkQuotas(model: QuotaModel, services: readonly DescService[]): string[] {
  const problems: string[] = [];
  for (const s of services)
    for (const m of s.methods) {
      const field = ruleOf(m).quotaUnits;
      if (field !== "" && m.input.fields.find((f) => f.name === field)?.fieldKind !== "list")
        problems.push(`${s.typeName}/${m.name}: quota_units "${field}" is not a repeated field of ${m.input.typeName}`);
      if (m.methodKind !== "unary" && m.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS)
        problems.push(`${s.typeName}/${m.name}: a streaming method with side effects (streams are not counted)`);
    }
  const rates = [...Object.entries(model.roles), ...(model.perScope ? [["scope", model.perScope] as const] : [])];
  for (const [name, r] of rates)
    if (!(r.perSecond > 0 && r.burst >= 1 && Number.isFinite(r.perSecond) && Number.isFinite(r.burst)))
      problems.push(`the quota of ${name}: perSecond and burst must be positive finite numbers`);
  return problems;
}
