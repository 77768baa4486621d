import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { NotFoundError, UnavailableError, type Logger } from "@adbudget/kit";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";

export interface BrandInfo {
  id: string;
  timeZone: string;
  currencyCode: string;
  archived: boolean;
}

interface Entry {
  info: BrandInfo | undefined;
  fetchedAt: number;
}

/**
 * What the budget service knows of brands, without a call per spend event: a read-through
 * cache over BrandService (typed Connect client) with bounded staleness.
 *
 * - A known brand is re-read every `ttlMs` (default 5 s) while it is used, in the background: a
 *   call that finds its entry older than that is answered from it and starts the re-read, so a
 *   busy brand's spend never waits for BrandService. An archive is seen within `ttlMs` plus one
 *   re-read; an entry older than three `ttlMs` (a brand idle that long) is re-read before use.
 *   (The zone cannot change after the first spend, so attribution of spend is never affected;
 *   only the archived flag on spend can lag.)
 * - An unknown brand is remembered for `negativeTtlMs` (default 1 s), so a client retrying with
 *   a bad id cannot turn every event into a lookup.
 * - Concurrent lookups of one brand share one call.
 * - If BrandService is unreachable, a stale entry is used (and logged); with none, the caller
 *   gets UNAVAILABLE, which is retriable.
 */
/** Entries older than this many TTLs are re-read before use (a brand idle that long). */
const STALE_LIMIT = 3;

export class BrandDirectory {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Entry>>();

  constructor(
    private readonly client: Client<typeof BrandService>,
    private readonly logger: Logger,
    private readonly options: { ttlMs?: number; negativeTtlMs?: number; now?: () => number } = {},
  ) {}

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  /** The brand, or NotFoundError. */
  async get(brandId: string): Promise<BrandInfo> {
    const usable = this.peek(brandId);
    if (usable !== undefined) return usable;
    const cached = this.entries.get(brandId);
    const ttl = cached?.info ? this.ttl() : (this.options.negativeTtlMs ?? 1000);
    let entry = cached;
    if (entry === undefined || this.now() - entry.fetchedAt >= ttl) {
      try {
        entry = await this.fetch(brandId);
      } catch (err) {
        if (cached?.info === undefined) {
          throw new UnavailableError(`brand service unreachable, cannot look up brand ${brandId}: retry later`);
        }
        this.logger.warn({ err, brandId }, "brand service unreachable: using a stale brand entry");
        entry = cached;
      }
    }
    if (entry.info === undefined) throw new NotFoundError("brand", brandId);
    return entry.info;
  }

  /**
   * The brand if it is cached and usable without a call (undefined: ask `get`). An entry past
   * `ttlMs` is still answered, up to three `ttlMs`, and re-read in the background.
   */
  peek(brandId: string): BrandInfo | undefined {
    const cached = this.entries.get(brandId);
    if (cached?.info === undefined) return undefined;
    const age = this.now() - cached.fetchedAt;
    if (age < this.ttl()) return cached.info;
    if (age >= STALE_LIMIT * this.ttl()) return undefined;
    void this.fetch(brandId).catch((err: unknown) => this.logger.warn({ err, brandId }, "brand service unreachable: re-read of a brand failed, will retry"));
    return cached.info;
  }

  private ttl(): number {
    return this.options.ttlMs ?? 5000;
  }

  /**
   * The brand as BrandService answers it now (the cache is refreshed with it): for the few
   * reads that must not act on a stale zone. UNAVAILABLE when BrandService cannot answer.
   */
  async fresh(brandId: string): Promise<BrandInfo> {
    let entry: Entry;
    try {
      entry = await this.fetch(brandId);
    } catch {
      throw new UnavailableError(`brand service unreachable, cannot read brand ${brandId}: retry later`);
    }
    if (entry.info === undefined) throw new NotFoundError("brand", brandId);
    return entry.info;
  }

  /** Forgets a brand, so the next lookup reads it again (after a brand event, for example). */
  invalidate(brandId: string): void {
    this.entries.delete(brandId);
  }

  private fetch(brandId: string): Promise<Entry> {
    let p = this.inflight.get(brandId);
    if (p === undefined) {
      p = this.client
        .getBrand({ id: brandId }, { timeoutMs: 3000 })
        .then(
          ({ brand }): Entry => ({
            info: brand && {
              id: brand.id,
              timeZone: brand.timeZone,
              currencyCode: brand.currencyCode,
              archived: brand.archived,
            },
            fetchedAt: this.now(),
          }),
          (err: unknown): Entry => {
            if (ConnectError.from(err).code === Code.NotFound) return { info: undefined, fetchedAt: this.now() };
            throw err;
          },
        )
        .then((entry) => {
          this.entries.set(brandId, entry);
          return entry;
        })
        .finally(() => this.inflight.delete(brandId));
      this.inflight.set(brandId, p);
    }
    return p;
  }
}
