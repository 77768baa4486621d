import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { LRUCache } from "lru-cache";
import { NotFoundError, UnavailableError, type Logger } from "@adbudget/kit";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";

export interface BrandInfo {
  id: string;
  timeZone: string;
  currencyCode: string;
  archived: boolean;
}

/** A brand as last read, or undefined: BrandService said it does not exist. */
interface Entry {
  info: BrandInfo | undefined;
}

export interface BrandDirectoryOptions {
  /** Age after which a known brand is re-read (BRAND_CACHE_TTL_MS, default 5 s; 0: on every lookup). */
  ttlMs?: number;
  /** How long an unknown id is remembered (default 1 s). */
  negativeTtlMs?: number;
  /** Brands kept at most (default 100,000), the least recently used forgotten first. */
  maxEntries?: number;
  /** The clock the ages are measured on (tests); default `performance.now`. */
  now?: () => number;
}

/** Entries older than this many TTLs are re-read before use (a brand idle that long). */
const STALE_LIMIT = 3;
/**
 * Brands kept at most: an entry is ~200 bytes, so 100,000 is ~20 MB, far above the brands an
 * agency has, and a bound on a caller cycling through made-up ids (each remembered for 1 s).
 */
const MAX_ENTRIES = 100_000;

/**
 * What the budget service knows of brands, without a call per spend event: a read-through
 * cache (lru-cache) over BrandService (typed Connect client) with bounded staleness.
 *
 * - A known brand is re-read every `ttlMs` while it is used, in the background: a call that
 *   finds its entry older than that is answered from it and starts the re-read, so a busy
 *   brand's spend never waits for BrandService. An archive is seen within `ttlMs` plus one
 *   re-read; an entry older than three `ttlMs` (a brand idle that long) is re-read before use.
 *   (The zone cannot change after the first spend, so attribution of spend is never affected;
 *   only the archived flag on spend can lag.)
 * - An unknown brand is remembered for `negativeTtlMs`, so a client retrying with a bad id
 *   cannot turn every event into a lookup.
 * - Concurrent lookups of one brand share one call (the cache's fetch).
 * - If BrandService is unreachable, a stale entry is used (and logged); with none, the caller
 *   gets UNAVAILABLE, which is retriable.
 */
export class BrandDirectory {
  private readonly cache: LRUCache<string, Entry>;
  private readonly ttlMs: number;
  private readonly negativeTtlMs: number;

  constructor(
    private readonly client: Client<typeof BrandService>,
    private readonly logger: Logger,
    options: BrandDirectoryOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5000;
    this.negativeTtlMs = options.negativeTtlMs ?? 1000;
    this.cache = new LRUCache<string, Entry>({
      max: options.maxEntries ?? MAX_ENTRIES,
      // A known brand's freshness; 1 ms at least, since 0 would mean "never stale".
      ttl: Math.max(1, this.ttlMs),
      ...(options.now === undefined ? {} : { perf: { now: options.now } }),
      // Read the clock on every check (by default lru-cache reuses one reading for 1 ms).
      ttlResolution: 0,
      // Stale entries stay (the re-read replaces them, or answers when BrandService is down).
      noDeleteOnStaleGet: true,
      noDeleteOnFetchRejection: true,
      allowStaleOnFetchRejection: true,
      // fresh() storing a brand while a lookup's read runs must not abort that read: its caller
      // would get no entry (UNAVAILABLE) although BrandService answered.
      ignoreFetchAbort: true,
      fetchMethod: async (brandId, stale, { options: set }) => {
        const entry = await this.read(brandId, stale);
        if (entry.info === undefined) set.ttl = this.negativeTtlMs;
        return entry;
      },
    });
  }

  /** The brand, or NotFoundError. */
  async get(brandId: string): Promise<BrandInfo> {
    const usable = this.peek(brandId);
    if (usable !== undefined) return usable;
    // Only a known brand answers from a stale entry when BrandService is down: a brand known as
    // missing is asked again, and UNAVAILABLE (retried) if it cannot be, never a final NOT_FOUND.
    const known = this.cache.get(brandId, { allowStale: true })?.info !== undefined;
    const entry = await this.cache
      .fetch(brandId, { allowStale: false, forceRefresh: this.ttlMs === 0, allowStaleOnFetchRejection: known })
      .catch((err: unknown) => {
        this.logger.warn({ err, brandId }, "brand service unreachable: cannot look up a brand");
        return undefined;
      });
    // Undefined: the read failed with no stale entry to answer instead.
    if (entry === undefined)
      throw new UnavailableError(`brand service unreachable, cannot look up brand ${brandId}: retry later`);
    if (entry.info === undefined) throw new NotFoundError("brand", brandId);
    return entry.info;
  }

  /**
   * The brand if it is cached and usable without a call (undefined: ask `get`). An entry past
   * `ttlMs` is still answered, up to three `ttlMs`, and re-read in the background.
   */
  peek(brandId: string): BrandInfo | undefined {
    if (this.ttlMs === 0) return undefined;
    const info = this.cache.get(brandId, { allowStale: true })?.info;
    if (info === undefined) return undefined;
    // Fresh while its age is at most ttlMs (lru-cache's rule); negative: stale by that much.
    const remaining = this.cache.getRemainingTTL(brandId);
    if (remaining >= 0) return info;
    if (-remaining >= (STALE_LIMIT - 1) * this.ttlMs) return undefined;
    void this.cache.fetch(brandId, { allowStale: true }).catch(() => undefined);
    return info;
  }

  /**
   * The brand as BrandService answers it now (the cache is refreshed with it): for the few
   * reads that must not act on a stale zone. A read of its own, never one already under way
   * that could fall back to a stale entry. UNAVAILABLE when BrandService cannot answer.
   */
  async fresh(brandId: string): Promise<BrandInfo> {
    const entry = await this.read(brandId, undefined).catch((err: unknown) => {
      throw new UnavailableError(`brand service unreachable, cannot read brand ${brandId}: retry later`, {
        cause: err,
      });
    });
    this.cache.set(brandId, entry, entry.info === undefined ? { ttl: this.negativeTtlMs } : {});
    if (entry.info === undefined) throw new NotFoundError("brand", brandId);
    return entry.info;
  }

  /** One read from BrandService: NOT_FOUND is an entry too; a failure is logged when a stale entry will answer. */
  private async read(brandId: string, stale: Entry | undefined): Promise<Entry> {
    try {
      const { brand } = await this.client.getBrand({ id: brandId }, { timeoutMs: 3000 });
      return {
        info: brand && {
          id: brand.id,
          timeZone: brand.timeZone,
          currencyCode: brand.currencyCode,
          archived: brand.archived,
        },
      };
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return { info: undefined };
      if (stale?.info !== undefined)
        this.logger.warn({ err, brandId }, "brand service unreachable: using a stale brand entry");
      throw err;
    }
  }
}
