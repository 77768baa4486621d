import type { ConnectionOptions } from "@nats-io/transport-node";
import type { Cast } from "./cast.ts";
import { campaignInvariants, eventInvariants, ledgerInvariants, type Verdict } from "./invariants.ts";
import type { EventRecord } from "./load.ts";
import { readOutboxes } from "./outbox.ts";
import { servingTruth, type TruthSources } from "./serving-truth.ts";
import { msgIdVerdict, readStreams, type StreamMessage } from "./streams.ts";

type Service = "brand" | "budget" | "campaign";

/** Where a system's state is read from, whichever engines it runs on. */
export interface SystemSources {
  clients: Pick<TruthSources, "brands" | "budget" | "campaigns">;
  databases: Record<Service, { url: string }>;
  /** Each service's stream name. */
  streams: Record<Service, string>;
  natsUrl: string;
  /** How to connect to that NATS (the production topology's administrator over TLS). */
  natsOptions?: Omit<ConnectionOptions, "servers">;
  /** The services' clock. */
  now: () => number;
}

/**
 * The invariants every chaos run checks after its faults, in the report's order (the ledger's
 * first): the ledger against the load's history, every campaign against the serving rule and the
 * watchers, the budget events against their periods, every stream message against its outbox
 * row. Returns what the runs' own verdicts read too (the outbox, the streams' messages).
 */
export async function systemInvariants(
  src: SystemSources,
  cast: Pick<Cast, "campaignIds">,
  records: EventRecord[],
  watchers: Parameters<typeof campaignInvariants>[2],
): Promise<{
  verdicts: Verdict[];
  convergedMs: number;
  outbox: Awaited<ReturnType<typeof readOutboxes>>;
  messagesOf: (stream: string) => StreamMessage[];
}> {
  const { databases, streams: names } = src;
  const verdicts: Verdict[] = [];
  verdicts.push(...(await ledgerInvariants(databases.budget.url, records, () => "UTC")));
  const truthSources = { ...src.clients, budgetDbUrl: databases.budget.url, now: src.now };
  const campaigns = await campaignInvariants(
    () => actualCampaigns(src.clients, cast),
    () => servingTruth(truthSources, cast.campaignIds),
    watchers,
    90_000,
  );
  verdicts.push(...campaigns.verdicts);
  const outboxUrls = { brand: databases.brand.url, budget: databases.budget.url, campaign: databases.campaign.url };
  const streams = await readStreams(src.natsUrl, Object.values(names), src.natsOptions);
  const messagesOf = (stream: string) => streams.get(stream) ?? [];
  verdicts.push(...(await eventInvariants(messagesOf(names.budget), databases.budget.url, outboxUrls)));
  const outbox = await readOutboxes(outboxUrls);
  verdicts.push(
    msgIdVerdict(
      (["brand", "budget", "campaign"] as const).map((s) => ({
        name: names[s],
        messages: messagesOf(names[s]),
        outbox: outbox
          .filter((r) => r.service === s)
          .map((r) => ({ eventId: r.eventId, published: r.publishedAt !== null })),
      })),
    ),
  );
  return { verdicts, convergedMs: campaigns.convergedMs, outbox, messagesOf };
}

/** Serving state and reasons of the cast's campaigns, as the campaign service holds them. */
async function actualCampaigns(
  system: Pick<TruthSources, "campaigns">,
  cast: Pick<Cast, "campaignIds">,
): Promise<Map<string, { serving: boolean; reasons: number[] }>> {
  const out = new Map<string, { serving: boolean; reasons: number[] }>();
  for (const id of cast.campaignIds) {
    const c = (await system.campaigns.getCampaign({ id }).catch(() => undefined))?.campaign;
    if (c) out.set(id, { serving: c.serving, reasons: [...c.pauseReasons] });
  }
  return out;
}
