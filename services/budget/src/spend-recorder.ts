import { create } from "@bufbuild/protobuf";
import type { HandlerContext } from "@connectrpc/connect";
import { requestId, requestLogger, toConnectError, type Logger, type Now } from "@adbudget/kit";
import type { BudgetStatus } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import {
  RecordSpendResponseSchema,
  RecordSpendResultSchema,
  type RecordSpendResponse,
  type RecordSpendResult,
} from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { BrandDirectory, BrandInfo } from "./brand-directory.js";
import type { BudgetStore } from "./budget-store.js";
import type { StoredSpend } from "./ledger-reads.js";
import { budgetStatus, spendProto } from "./proto-mapping.js";
import { prefixed, rpcStatus } from "./batch-errors.js";
import type { PreparedEvent, PreparedSpend } from "./spend-intake.js";
import type { SpendOutcome, SpendWriter } from "./spend-writer.js";
import type { ZoneLocks } from "./zone-locks.js";

/** An event of a batch after the writer: written (new or a duplicate), a retry the ledger held, or refused. */
export type BatchOutcome =
  | { kind: "written"; outcome: SpendOutcome }
  | { kind: "stored"; stored: StoredSpend; brand: BrandInfo }
  | { kind: "error"; error: Error };

/** Where a brand's status in a batch answer comes from: the writer's last transaction, or the store. */
type StatusSource = Extract<BatchOutcome, { kind: "written" | "stored" }>;

export interface SpendRecorderDeps {
  writer: SpendWriter;
  store: BudgetStore;
  brands: BrandDirectory;
  zones: ZoneLocks;
  logger: Logger;
  /** Told of every answered spend event (metrics). */
  onSpend?: (duplicate: boolean, amount: bigint) => void;
  now: Now;
}

/**
 * Records what the intake prepared and answers it: each event with the event as the ledger holds
 * it and its brand's budget status after it. A batch goes to the writer as one group (one
 * transaction of the group commit) and each brand's status is built once, shared by its events'
 * answers; each event still succeeds or fails on its own.
 */
export class SpendRecorder {
  constructor(private readonly deps: SpendRecorderDeps) {}

  /** One event: written (or the stored one answered), with the brand's status after it. */
  async record(p: PreparedSpend, signal?: AbortSignal): Promise<Omit<RecordSpendResponse, "$typeName">> {
    const now = this.deps.now();
    if (p.kind === "stored") {
      this.deps.onSpend?.(true, p.stored.amount);
      const periods = await this.deps.store.status(p.brand.id, await this.deps.zones.zoneOf(p.brand), now);
      return { duplicate: true, event: spendProto(p.stored), status: budgetStatus(p.brand, periods, now) };
    }
    const outcome = await this.deps.writer.submit(p.input, signal);
    this.deps.onSpend?.(outcome.duplicate, outcome.event.amount);
    const brand = await this.deps.brands.get(p.input.brandId);
    const status = budgetStatus(brand, outcome, now);
    return { duplicate: outcome.duplicate, event: spendProto(outcome.event), status };
  }

  /** The events of a batch, in order: one result (an answer or the event's own error) each. */
  async recordAll(prepared: PreparedEvent[], ctx: HandlerContext): Promise<RecordSpendResult[]> {
    const now = this.deps.now();
    const outcomes = await this.write(prepared, ctx.signal);
    const statuses = await this.statuses(outcomes, now);
    return outcomes.map((o, i) => {
      try {
        return create(RecordSpendResultSchema, { response: this.response(o, statuses) });
      } catch (err) {
        const { error, internal } = toConnectError(prefixed(err, `events[${i}].`), requestId(ctx));
        if (internal) requestLogger(ctx, this.deps.logger).error({ err }, "batch event failed");
        return create(RecordSpendResultSchema, { error: rpcStatus(error) });
      }
    });
  }

  /** The events to write go to the writer as one group; the others keep what the intake made of them. */
  private async write(prepared: PreparedEvent[], signal: AbortSignal): Promise<BatchOutcome[]> {
    const inputs = prepared.flatMap((p) => (p.kind === "write" ? [p.input] : []));
    const written = await this.deps.writer.submitAll(inputs, signal);
    let next = 0;
    return prepared.map((p): BatchOutcome => {
      if (p.kind !== "write") return p;
      const o = written[next++] ?? new Error(`spend event ${p.input.eventId}: the writer gave no outcome`);
      return o instanceof Error ? { kind: "error", error: o } : { kind: "written", outcome: o };
    });
  }

  /**
   * Each brand's status once: from its last written event's outcome (the writer read the brand's
   * current day and month in that transaction: the latest, should the group have been split
   * across transactions), or from the store for a brand with retries only. A brand whose status
   * cannot be read fails its events with that error.
   */
  private async statuses(outcomes: BatchOutcome[], now: number): Promise<Map<string, BudgetStatus | Error>> {
    const sources = new Map<string, StatusSource>();
    for (const o of outcomes) {
      if (o.kind === "written") sources.set(o.outcome.event.brandId, o);
      else if (o.kind === "stored" && sources.get(o.brand.id)?.kind !== "written") sources.set(o.brand.id, o);
    }
    const statuses = new Map<string, BudgetStatus | Error>();
    await Promise.all(
      [...sources].map(async ([brandId, source]) => {
        try {
          statuses.set(brandId, await this.statusOf(brandId, source, now));
        } catch (err) {
          statuses.set(brandId, err instanceof Error ? err : new Error(String(err)));
        }
      }),
    );
    return statuses;
  }

  private async statusOf(brandId: string, source: StatusSource, now: number): Promise<BudgetStatus> {
    if (source.kind === "written") return budgetStatus(await this.deps.brands.get(brandId), source.outcome, now);
    const periods = await this.deps.store.status(source.brand.id, await this.deps.zones.zoneOf(source.brand), now);
    return budgetStatus(source.brand, periods, now);
  }

  /** One event's answer; throws its error (its own, or its brand's status's). */
  private response(o: BatchOutcome, statuses: Map<string, BudgetStatus | Error>): RecordSpendResponse {
    if (o.kind === "error") throw o.error;
    const { event, duplicate, brandId } =
      o.kind === "stored"
        ? { event: o.stored, duplicate: true, brandId: o.brand.id }
        : { event: o.outcome.event, duplicate: o.outcome.duplicate, brandId: o.outcome.event.brandId };
    const status = statuses.get(brandId);
    if (status instanceof Error) throw status;
    this.deps.onSpend?.(duplicate, event.amount);
    return create(RecordSpendResponseSchema, { duplicate, event: spendProto(event), status });
  }
}
