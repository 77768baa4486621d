import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { NotFoundError, UnavailableError } from "@adbudget/kit";
import type { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";

/**
 * Which brand a campaign belongs to, without a call per spend event. A campaign's brand never
 * changes, so a known campaign is cached for good (bounded: the oldest entries go first past
 * `maxEntries`); an unknown id is remembered for `negativeTtlMs` (1 s). Concurrent lookups of
 * one campaign share one call to CampaignService.
 */
export class CampaignDirectory {
  private readonly known = new Map<string, string>();
  private readonly unknown = new Map<string, number>();
  private readonly inflight = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly client: Client<typeof CampaignService>,
    private readonly options: { negativeTtlMs?: number; maxEntries?: number } = {},
  ) {}

  /** The campaign's brand id, or NotFoundError. */
  async brandOf(campaignId: string): Promise<string> {
    const hit = this.known.get(campaignId);
    if (hit !== undefined) return hit;
    const missAt = this.unknown.get(campaignId);
    if (missAt !== undefined && Date.now() - missAt < (this.options.negativeTtlMs ?? 1000)) {
      throw new NotFoundError("campaign", campaignId);
    }
    let p = this.inflight.get(campaignId);
    if (p === undefined) {
      p = this.lookup(campaignId).finally(() => this.inflight.delete(campaignId));
      this.inflight.set(campaignId, p);
    }
    const brandId = await p;
    if (brandId === undefined) throw new NotFoundError("campaign", campaignId);
    return brandId;
  }

  /** The campaign's brand id if it is known, without a call (undefined: ask `brandOf`). */
  peek(campaignId: string): string | undefined {
    return this.known.get(campaignId);
  }

  private async lookup(campaignId: string): Promise<string | undefined> {
    try {
      const { campaign } = await this.client.getCampaign({ id: campaignId }, { timeoutMs: 3000 });
      const brandId = campaign!.brandId;
      if (this.known.size >= (this.options.maxEntries ?? 100_000)) {
        this.known.delete(this.known.keys().next().value!);
      }
      this.known.set(campaignId, brandId);
      this.unknown.delete(campaignId);
      return brandId;
    } catch (err) {
      const e = ConnectError.from(err);
      if (e.code === Code.NotFound) {
        this.unknown.set(campaignId, Date.now());
        return undefined;
      }
      throw new UnavailableError(`campaign service unavailable, cannot check campaign ${campaignId}: retry later`);
    }
  }
}
