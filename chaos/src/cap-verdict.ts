import { fromBinary } from "@bufbuild/protobuf";
import { localDateOf } from "@adbudget/testing";
import { CampaignCapEventSchema } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import type { Verdict } from "./invariants.ts";
import { isoDate } from "./serving-truth.ts";
import type { StreamMessage } from "./streams.ts";

/** The capped campaign's facts: its cap, its ledger rows and its audit log's cap stops. */
export interface CapDays {
  cap: bigint;
  /** The brand's zone (a campaign day is a local day of its brand). */
  zone: string;
  spend: { occurredAtMs: number; amount: bigint }[];
  /** Each stop with cause campaign_budget.exhausted: its source and the day its cap event names. */
  stops: { sourceId: string; changedAtShifted: number; day: string | undefined }[];
}

/**
 * Per local day of the capped campaign: its spend that day (summed from the ledger, the day taken
 * in the brand's zone here, not from the service's columns) reached the cap iff exactly one cap
 * stop was recorded for that day. A total over the run would let a missing stop on one day hide
 * behind a second stop on another. The run must have reached the cap on some day, or the cap went
 * through no fault.
 */
export function capDaysVerdict(c: CapDays): Verdict {
  const spent = new Map<string, bigint>();
  for (const s of c.spend) {
    const day = localDateOf(s.occurredAtMs, c.zone);
    spent.set(day, (spent.get(day) ?? 0n) + s.amount);
  }
  const problems: string[] = [];
  const stops = new Map<string, string[]>();
  for (const s of c.stops) {
    if (s.day === undefined) problems.push(`cap stop from ${s.sourceId} names no cap event on the budget stream`);
    const day = s.day ?? localDateOf(s.changedAtShifted, c.zone);
    stops.set(day, [...(stops.get(day) ?? []), s.sourceId]);
  }
  const days = [...new Set([...spent.keys(), ...stops.keys()])].sort();
  const figures: string[] = [];
  for (const day of days) {
    const total = spent.get(day) ?? 0n;
    const reached = total >= c.cap;
    const n = stops.get(day)?.length ?? 0;
    figures.push(`${day}: ${total} of ${c.cap}, ${n} stop(s)`);
    if (reached && n !== 1)
      problems.push(
        `${day}: spend ${total} reached the cap ${c.cap}, ${n} cap stops recorded (${(stops.get(day) ?? []).join(", ")})`,
      );
    if (!reached && n > 0)
      problems.push(
        `${day}: spend ${total} below the cap ${c.cap}, yet ${n} cap stop(s) (${(stops.get(day) ?? []).join(", ")})`,
      );
  }
  if (![...spent.values()].some((v) => v >= c.cap))
    problems.push("the capped campaign reached its cap on no day: the cap went through no fault");
  return {
    name: "the capped campaign stopped on its cap exactly once on each day its spend reached the cap, and never on another",
    ok: problems.length === 0,
    figures: figures.join("; "),
    problems,
  };
}

/** Each cap event on the budget stream: its event id -> the brand day it is for ("YYYY-MM-DD"). */
export function capEventDays(budgetMessages: StreamMessage[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of budgetMessages) {
    if (!m.subject.includes(".budget.campaign_")) continue;
    const e = fromBinary(CampaignCapEventSchema, m.data);
    const day = isoDate(e.period?.start);
    if (day !== undefined) out.set(e.eventId, day);
  }
  return out;
}
