import type { Client } from "@connectrpc/connect";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Campaign } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { WatchEventType, type CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@adbudget/proto/grpc/health/v1/health_pb.js";

/**
 * An ad server watching one campaign replica: the latest state of every campaign it was shown,
 * reconnecting (a fresh snapshot) whenever its stream breaks, as a real one would.
 */
export class Watcher {
  readonly latest = new Map<string, Campaign>();
  reconnects = 0;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;

  readonly name: string;
  private readonly client: Client<typeof CampaignService>;

  constructor(name: string, client: Client<typeof CampaignService>) {
    this.name = name;
    this.client = client;
    this.done = this.run();
  }

  private async run(): Promise<void> {
    while (!this.abort.signal.aborted) {
      try {
        for await (const m of this.client.watchCampaigns({}, { signal: this.abort.signal })) {
          if (m.campaign === undefined) continue;
          if (m.type === WatchEventType.DELETED) this.latest.delete(m.campaign.id);
          else this.latest.set(m.campaign.id, m.campaign);
        }
      } catch {
        // the replica died or restarted: reconnect below
      }
      if (this.abort.signal.aborted) return;
      this.reconnects++;
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

/** Polls a replica's grpc.health.v1 and keeps every status change with its time. */
export class HealthPoller {
  readonly changes: { at: number; status: string }[] = [];
  private running = true;
  private readonly done: Promise<void>;

  readonly name: string;

  constructor(name: string, url: string, intervalMs = 200) {
    this.name = name;
    const health = createClient(Health, createGrpcTransport({ baseUrl: url }));
    this.done = (async () => {
      while (this.running) {
        const status = await health.check({ service: "" }, { timeoutMs: 1000 }).then(
          (r) => Status[r.status],
          () => "UNREACHABLE",
        );
        if (this.changes.at(-1)?.status !== status) this.changes.push({ at: Date.now(), status });
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    })();
  }

  /** Whether `status` was seen between `from` and `to` (wall-clock ms). */
  saw(status: string, from: number, to: number): boolean {
    return this.changes.some((c, i) => {
      const until = this.changes[i + 1]?.at ?? Infinity;
      return c.status === status && c.at <= to && until >= from;
    });
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}
