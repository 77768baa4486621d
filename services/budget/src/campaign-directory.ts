import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { LRUCache } from "lru-cache";
import { NotFoundError, UnavailableError } from "@adbudget/kit";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";

/** A campaign's brand id, or "": CampaignService said the campaign does not exist. */
type Owner = string;
const UNKNOWN: Owner = "";

export interface CampaignDirectoryOptions {
  /** How long an unknown id is remembered (default 1 s). */
  negativeTtlMs?: number;
  /** Campaigns kept at most (default 100,000), the least recently used forgotten first. */
  maxEntries?: number;
  /** The clock the ages are measured on (tests); default `performance.now`. */
  now?: () => number;
}

/**
 * Campaigns kept at most: an entry is ~150 bytes, so 100,000 is ~15 MB, above the live
 * campaigns of an agency's spending brands, and a bound on a caller cycling through made-up ids.
 */
const MAX_ENTRIES = 100_000;

/**
 * Which brand a campaign belongs to, without a call per spend event: a read-through cache
 * (lru-cache) over CampaignService. A campaign's brand never changes, so a known campaign stays
 * until it is the least recently used past `maxEntries`; an unknown id is remembered for
 * `negativeTtlMs`. Concurrent lookups of one campaign share one call (the cache's fetch).
 */
export class CampaignDirectory {
  private readonly cache: LRUCache<string, Owner>;

  constructor(
    private readonly client: Client<typeof CampaignService>,
    options: CampaignDirectoryOptions = {},
  ) {
    const negativeTtlMs = options.negativeTtlMs ?? 1000;
    this.cache = new LRUCache<string, Owner>({
      max: options.maxEntries ?? MAX_ENTRIES,
      ...(options.now === undefined ? {} : { perf: { now: options.now } }),
      ttlResolution: 0,
      // An entry evicted while its lookup runs must not fail the caller (lru-cache's "evicted").
      ignoreFetchAbort: true,
      fetchMethod: async (campaignId, _stale, { options: set }) => {
        const owner = await this.lookup(campaignId);
        if (owner === UNKNOWN) set.ttl = negativeTtlMs;
        return owner;
      },
    });
  }

  /** The campaign's brand id, or NotFoundError. */
  async brandOf(campaignId: string): Promise<string> {
    const owner = await this.cache.fetch(campaignId, { allowStale: false });
    if (owner === undefined || owner === UNKNOWN) throw new NotFoundError("campaign", campaignId);
    return owner;
  }

  /** The campaign's brand id if it is known, without a call (undefined: ask `brandOf`). */
  peek(campaignId: string): string | undefined {
    const owner = this.cache.get(campaignId);
    return owner === UNKNOWN ? undefined : owner;
  }

  private async lookup(campaignId: string): Promise<Owner> {
    try {
      const { campaign } = await this.client.getCampaign({ id: campaignId }, { timeoutMs: 3000 });
      return campaign?.brandId ?? UNKNOWN;
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return UNKNOWN;
      throw new UnavailableError(`campaign service unavailable, cannot check campaign ${campaignId}: retry later`, {
        cause: err,
      });
    }
  }
}
