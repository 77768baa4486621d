import { GroupCommit, NotFoundError, type Logger } from "@adbudget/kit";
import { brandsOf, brandStates } from "./brand-state.js";
import {
  auditRow,
  stateOf,
  type CampaignChange,
  type CampaignRow,
  type Cause,
  type StateChangeRow,
} from "./campaign-rows.js";
import type { CampaignStore } from "./campaign-store.js";
import { auditMany, writeStates } from "./campaign-writes.js";
import { lockBrands, lockCampaigns } from "./lock-order.js";
import type { FlightPhase } from "@adbudget/time";
import { flightAt, flightCause, hasFlight } from "./flight.js";
import { nextChangeOf } from "./next-change.js";
import { sameState } from "./serving-state.js";

/** One SetDaypartState call. */
export interface DaypartRequest {
  campaignId: string;
  inWindow: boolean;
  asOf: Date;
  scheduleVersion: bigint;
  cause: Cause;
}

/** What a call changed: the campaign after it, and whether it changed anything a watcher sees. */
export interface DaypartOutcome {
  campaign: CampaignRow;
  unchanged: boolean;
}

/**
 * The decision for one call, given the campaign as it is now and the flight phase at the call's
 * instant (pure). Ignored when computed from an older schedule version, older than the state
 * applied, already applied, or for a campaign with neither a schedule nor flight dates; a newer
 * as-of of the same state is a confirmation (remembered, so older calls stay ignored, with no new
 * version or event); otherwise the daypart or flight state changes. Without a schedule the
 * campaign is always inside it, whatever the call says.
 */
export function daypartDecision(
  before: CampaignRow,
  req: Pick<DaypartRequest, "inWindow" | "asOf" | "scheduleVersion">,
  flight: FlightPhase = before.flight,
): "ignore" | "confirm" | "change" {
  const inWindow = before.schedule === null ? true : req.inWindow;
  const outdated = req.scheduleVersion !== 0n && req.scheduleVersion < before.scheduleVersion;
  const stale = before.daypartAsOf !== null && before.daypartAsOf > req.asOf;
  const sameState = before.inDaypart === inWindow && before.flight === flight;
  const same = sameState && before.daypartAsOf !== null && before.daypartAsOf.getTime() === req.asOf.getTime();
  if (outdated || stale || same || (before.schedule === null && !hasFlight(before))) return "ignore";
  return sameState ? "confirm" : "change";
}

/**
 * Group commit (the kit's GroupCommit, one transaction at a time) for the daypart clocks. When
 * hundreds of windows close at one instant, their workflows call SetDaypartState together; one
 * transaction per call would queue them on the pool's connections (four statements and a commit
 * each). Here the calls of a burst share a transaction: their brands are locked (shared) and
 * their campaigns in id order, one statement each, the brands read in one, every row written in
 * one and the audit rows in one, and the events go to the outbox with the same commit. At low
 * load a call waits for nobody (the first one starts a transaction at once; the ones arriving
 * meanwhile form the next).
 */
export class DaypartWriter {
  private readonly commits: GroupCommit<DaypartRequest, DaypartOutcome>;

  constructor(
    private readonly store: CampaignStore,
    logger: Logger,
    private readonly now: () => number,
    /** Most calls in one transaction (each locks one row; 500 keeps a transaction under ~50 ms). */
    maxBatch = 500,
  ) {
    this.commits = new GroupCommit({ name: "daypart batch", logger, flush: (reqs) => this.flush(reqs), maxBatch });
  }

  /** Queues one call for the next transaction; resolves with its outcome, rejects with its error (NOT_FOUND). */
  submit(req: DaypartRequest): Promise<DaypartOutcome> {
    return this.commits.submit(req);
  }

  /** One transaction for the group: one outcome (or NOT_FOUND) per call, in order. */
  private async flush(reqs: DaypartRequest[]): Promise<(DaypartOutcome | Error)[]> {
    const nowMs = this.now();
    const now = new Date(nowMs);
    const { result } = await this.store.tx(async (client) => {
      // The lock order (lock-order.ts): the brands (shared), then the campaigns, then the brands' state read.
      const ids = [...new Set(reqs.map((r) => r.campaignId))];
      await lockBrands(client, await brandsOf(client, ids), "share");
      const current = await lockCampaigns(client, ids);
      const brands = await brandStates(client, [...new Set([...current.values()].map((c) => c.brandId))]);
      const touched = new Set<string>();
      const audits: StateChangeRow[] = [];
      const changes: CampaignChange[] = [];
      // In arrival order: two calls for one campaign in a group apply as they would one by one.
      const outcomes = reqs.map((req): DaypartOutcome | Error => {
        const before = current.get(req.campaignId);
        if (before === undefined) return new NotFoundError("campaign", req.campaignId);
        const brand = brands.get(before.brandId);
        // The flight phase at the call's instant, from the stored dates in the brand's zone.
        const flight = flightAt(before, brand?.timeZone ?? "UTC", req.asOf.getTime());
        const decision = daypartDecision(before, req, flight);
        if (decision === "ignore") return { campaign: before, unchanged: true };
        const basis = {
          ...before,
          inDaypart: before.schedule === null ? true : req.inWindow,
          flight,
          daypartAsOf: req.asOf,
        };
        const nextChangeAt = nextChangeOf(basis, brand?.timeZone ?? "UTC", nowMs);
        touched.add(before.id);
        if (decision === "confirm") {
          // The same state, known from a later instant: no new version or event, but the answer
          // (like the row) carries the next change measured from that instant.
          const confirmed = { ...basis, nextChangeAt };
          current.set(before.id, confirmed);
          return { campaign: confirmed, unchanged: true };
        }
        const next = stateOf(basis, brand);
        const row: CampaignRow = {
          ...basis,
          nextChangeAt,
          serving: next.serving,
          reasons: next.reasons,
          version: before.version + 1n,
          updatedAt: now,
        };
        current.set(row.id, row);
        const prev = { serving: before.serving, reasons: before.reasons };
        const cause = { ...req.cause, cause: flightCause(before.flight, flight, req.cause.cause) };
        const stateChange = sameState(prev, next) ? undefined : auditRow(row, prev, next, cause, now);
        if (stateChange !== undefined) audits.push(stateChange);
        changes.push({
          campaign: row,
          stateChange,
          principal: cause.principal ?? "",
          requestId: cause.requestId ?? "",
        });
        return { campaign: row, unchanged: stateChange === undefined };
      });
      await writeStates(
        client,
        [...touched].flatMap((id) => current.get(id) ?? []),
      );
      await auditMany(client, audits);
      return { result: outcomes, changes };
    }, nowMs);
    return result;
  }
}
