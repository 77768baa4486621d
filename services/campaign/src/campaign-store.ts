import type pg from "pg";
import { inTransaction, writeOutbox, type OutboxMessage } from "@adbudget/kit";
import type { CampaignChange } from "./campaign-rows.js";

/**
 * The campaign service's transactions: every change runs in one that locks the rows it reads
 * (in THE lock order, lock-order.ts), recomputes serving states with the pure rule, writes one
 * audit row per serving-state change and the events to the outbox, so state, audit and events
 * are one fact. What a transaction does lives in the modules of its concern, functions of a
 * client: campaign-writes.ts (campaign rows and audit), brand-state.ts (the brand's row and
 * budget flags), budget-signals.ts (budget and cap signals), brand-changes.ts (brand events,
 * zone moves, reconciliation) and campaign-reads.ts (reads outside a write). This class holds
 * only what they share: the pool and how the outbox is written with each commit.
 */
export class CampaignStore {
  constructor(
    readonly pool: pg.Pool,
    private readonly publish: (changes: CampaignChange[], nowMs: number) => OutboxMessage[],
    private readonly channel: string,
  ) {}

  /** Runs `fn` in one transaction and writes the events of the changes it answers to the outbox before the commit. */
  async tx<T>(
    fn: (client: pg.PoolClient) => Promise<{ result: T; changes: CampaignChange[] }>,
    nowMs: number,
  ): Promise<{ result: T; changes: CampaignChange[] }> {
    return inTransaction(this.pool, async (client) => {
      const out = await fn(client);
      await writeOutbox(client, this.channel, this.publish(out.changes, nowMs), nowMs);
      return out;
    });
  }
}
