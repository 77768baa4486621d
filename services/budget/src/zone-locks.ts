import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { LRUCache } from "lru-cache";
import type pg from "pg";
import { NotFoundError, UnavailableError, type Logger, type Now } from "@adbudget/kit";
import type { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { usableZone } from "./runtime-zone.js";

/** More brands than this are not kept in memory (the least recently used go first); the table keeps all. */
const MAX_CACHED = 100_000;

/**
 * The zone each brand's spend is accounted in, locked once and for good.
 *
 * Why: a brand's periods are its local days and months, so the zone may change only until the
 * first spend (docs/design.md, Periods). Checking "has spend?" in BrandService and then
 * changing the zone is a race, and a zone cached for a few seconds here could attribute a spend
 * in the old zone after a change. So before the first spend of a brand is attributed,
 * BrandService itself locks the zone (LockBrandTimeZone, atomic with UpdateBrand under the
 * brand's row lock) and answers the zone that is now final; it is stored in `brand_zones` and
 * used for every later spend. A zone change committed before the lock is the zone returned; one
 * after it is refused by BrandService.
 *
 * A locked zone never changes, so it is cached in memory (lru-cache) without expiry. Concurrent
 * first spends of one brand share one lock call (the cache's fetch).
 */
export class ZoneLocks {
  private readonly locked = new LRUCache<string, string>({
    max: MAX_CACHED,
    fetchMethod: (brandId) => this.lockOnce(brandId),
    // A read storing the zone (lockedZone) while a first spend's lock call runs must not abort
    // that call: its caller would get lru-cache's "replaced" error (INTERNAL) for a zone that is fine.
    ignoreFetchAbort: true,
  });

  constructor(
    private readonly pool: pg.Pool,
    private readonly brands: Client<typeof BrandService>,
    private readonly logger: Logger,
    private readonly now: Now,
  ) {}

  /** The brand's final zone, locking it first if nobody has (the brand's first spend). */
  async lock(brandId: string): Promise<string> {
    const zone = await this.locked.fetch(brandId);
    // lockOnce answers a zone or throws; undefined only if the entry was dropped mid-call.
    return zone ?? this.lockOnce(brandId);
  }

  /** The brand's locked zone if it is in memory (undefined: ask `lock`). */
  peek(brandId: string): string | undefined {
    return this.locked.get(brandId);
  }

  /** The brand's locked zone if it has one (no lock taken): reads use it over a cached zone. */
  async lockedZone(brandId: string): Promise<string | undefined> {
    const hit = this.locked.get(brandId);
    if (hit !== undefined) return hit;
    const stored = await this.stored(brandId);
    if (stored !== undefined) this.locked.set(brandId, stored);
    return stored;
  }

  /**
   * The zone a brand's periods are in for a read: its locked zone once it has spend, else its
   * current one; UNAVAILABLE when this runtime cannot compute days in it (runtime-zone.ts).
   */
  async zoneOf(brand: { id: string; timeZone: string }): Promise<string> {
    return usableZone((await this.lockedZone(brand.id)) ?? brand.timeZone, brand.id);
  }

  private async lockOnce(brandId: string): Promise<string> {
    let zone = await this.stored(brandId);
    if (zone === undefined) {
      zone = await this.lockAtBrandService(brandId);
      // Another replica may have stored it meanwhile: BrandService answered both the same zone.
      await this.pool.query(
        "insert into brand_zones (brand_id, time_zone, locked_at) values ($1, $2, $3) on conflict (brand_id) do nothing",
        [brandId, zone, new Date(this.now())],
      );
      this.logger.info({ brandId, timeZone: zone }, "brand time zone locked (first spend)");
    }
    return zone;
  }

  private async stored(brandId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query<{ time_zone: string }>({
      name: "zone-locked",
      text: "select time_zone from brand_zones where brand_id = $1",
      values: [brandId],
    });
    return rows[0]?.time_zone;
  }

  private async lockAtBrandService(brandId: string): Promise<string> {
    try {
      const { brand } = await this.brands.lockBrandTimeZone({ id: brandId }, { timeoutMs: 3000 });
      if (brand !== undefined) return brand.timeZone;
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.NotFound) throw new NotFoundError("brand", brandId);
      throw new UnavailableError(
        `brand service unreachable, cannot lock the time zone of brand ${brandId}: retry later`,
      );
    }
    throw new UnavailableError(
      `brand service answered no brand when locking the time zone of brand ${brandId}: retry later`,
    );
  }
}
