import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import type { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";

/**
 * The spend load of the chaos suite, recorded as Jepsen records a history: every event is sent
 * until it is answered, retried with the same event id (and the same body) on anything that
 * does not settle it, and ends as
 * - ok: some attempt was answered (recorded, or a duplicate of a recorded one): acknowledged;
 * - failed: an answer that says the event was refused (INVALID_ARGUMENT, ...): never stored;
 * - indeterminate: no attempt got an answer (crash, outage, deadline): it may or may not be stored.
 */
export type Outcome = "ok" | "failed" | "indeterminate";

export interface EventRecord {
  eventId: string;
  brandId: string;
  campaignId: string;
  amount: bigint;
  occurredAtMs: number;
  outcome: Outcome;
  attempts: number;
  /** Every answer an attempt got that was not OK, by code name. */
  codes: string[];
}

/** Answers that settle an event as refused: the same body would be refused again. */
const DEFINITE = new Set([
  Code.InvalidArgument,
  Code.NotFound,
  Code.FailedPrecondition,
  Code.PermissionDenied,
  Code.AlreadyExists,
  Code.Unauthenticated,
]);

export interface LoadOptions {
  writers: number;
  /** The services' clock (events are dated by it, so their periods are known exactly). */
  now: () => number;
  /** Attempts per event before it is left indeterminate (enough to ride out a 10 s outage). */
  maxAttempts?: number;
  /** Every n-th call of a writer is a RecordSpendBatch of 5 events. */
  batchEvery?: number;
  /** Pause between a writer's calls. */
  pauseMs?: number;
}

export class SpendLoad {
  readonly records: EventRecord[] = [];
  /** Calls a service answered INTERNAL or UNKNOWN (must stay 0; a broken connection is not an answer). */
  internal: string[] = [];
  private running = false;
  private loops: Promise<void>[] = [];

  private readonly budget: Client<typeof BudgetService>;
  private readonly targets: { brandId: string; campaignId: string }[];
  private readonly options: LoadOptions;

  constructor(
    budget: Client<typeof BudgetService>,
    targets: { brandId: string; campaignId: string }[],
    options: LoadOptions,
  ) {
    this.budget = budget;
    this.targets = targets;
    this.options = options;
  }

  start(): void {
    this.running = true;
    this.loops = Array.from({ length: this.options.writers }, (_, w) => this.writer(w));
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
  }

  count(outcome: Outcome): number {
    return this.records.filter((r) => r.outcome === outcome).length;
  }

  private async writer(w: number): Promise<void> {
    for (let n = 0; this.running; n++) {
      const size = n % (this.options.batchEvery ?? 10) === 9 ? 5 : 1;
      const events = Array.from({ length: size }, (_, k): EventRecord => {
        const t = this.targets[(w * 7 + n * 3 + k) % this.targets.length];
        return {
          eventId: `w${w}-${n}-${k}`,
          brandId: t.brandId,
          campaignId: t.campaignId,
          amount: BigInt(1000 + ((w * 7919 + n * 104729 + k) % 9000)),
          occurredAtMs: Math.floor(this.options.now() / 1000) * 1000,
          outcome: "indeterminate",
          attempts: 0,
          codes: [],
        };
      });
      this.records.push(...events);
      await this.send(events);
      await new Promise((r) => setTimeout(r, this.options.pauseMs ?? 20));
    }
  }

  /** Sends until every event is settled or the attempts run out. */
  private async send(events: EventRecord[]): Promise<void> {
    let pending = events;
    for (let attempt = 1; pending.length > 0 && attempt <= (this.options.maxAttempts ?? 40); attempt++) {
      for (const e of pending) e.attempts = attempt;
      const requests = pending.map((e) => ({
        eventId: e.eventId,
        brandId: e.brandId,
        campaignId: e.campaignId,
        amountMicros: e.amount,
        occurredAt: timestampFromMs(e.occurredAtMs),
      }));
      try {
        if (pending.length === 1) {
          await this.budget.recordSpend(requests[0], { timeoutMs: 5000 });
          pending[0].outcome = "ok";
        } else {
          const { results } = await this.budget.recordSpendBatch({ events: requests }, { timeoutMs: 5000 });
          results.forEach((r, i) => {
            const e = pending[i];
            if (r.response !== undefined) e.outcome = "ok";
            else this.settle(e, r.error?.code ?? Code.Unknown, r.error?.message ?? "", true);
          });
        }
      } catch (err) {
        const e = ConnectError.from(err);
        // A service's own answer carries its request id; a broken connection is the client's.
        const answered = e.metadata.get("x-request-id") !== null;
        for (const ev of pending) this.settle(ev, e.code, e.rawMessage, answered);
      }
      pending = pending.filter((e) => e.outcome === "indeterminate");
      if (pending.length > 0) await new Promise((r) => setTimeout(r, Math.min(2000, 100 * attempt)));
    }
  }

  private settle(e: EventRecord, code: Code, message: string, answered: boolean): void {
    e.codes.push(`${Code[code] ?? String(code)}${answered ? "" : " (transport)"}`);
    if (answered && (code === Code.Internal || code === Code.Unknown))
      this.internal.push(`${e.eventId}: ${Code[code]} ${message}`);
    if (DEFINITE.has(code)) e.outcome = "failed";
  }
}
