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
 * - A known brand is re-read at most every `ttlMs` (default 5 s): an archive or a zone change
 *   is seen within that bound. (The zone cannot change after the first spend, so attribution
 *   of spend is never affected; only the archived flag on spend can lag by `ttlMs`.)
 * - An unknown brand is remembered for `negativeTtlMs` (default 1 s), so a client retrying with
 *   a bad id cannot turn every event into a lookup.
 * - Concurrent lookups of one brand share one call.
 * - If BrandService is unreachable, a stale entry is used (and logged); with none, the caller
 *   gets UNAVAILABLE, which is retriable.
 */
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
    const cached = this.entries.get(brandId);
    const ttl = cached?.info ? (this.options.ttlMs ?? 5000) : (this.options.negativeTtlMs ?? 1000);
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

  /** The brand if it is cached and fresh, without a call (undefined: ask `get`). */
  peek(brandId: string): BrandInfo | undefined {
    const cached = this.entries.get(brandId);
    if (cached?.info === undefined || this.now() - cached.fetchedAt >= (this.options.ttlMs ?? 5000)) return undefined;
    return cached.info;
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
