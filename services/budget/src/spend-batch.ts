import { AlreadyExistsError } from "@adbudget/kit";
import { addDays, formatDate, nextMonthStart, periodsOf, startOfDay, type CalendarDate } from "@adbudget/time";
import { spendKey, type CurrentPeriod, type StoredSpend } from "./ledger-reads.js";
import type { SpendInput, SpendOutcome } from "./spend-writer.js";

/*
 * The ledger rules of one spend batch that need no I/O: which events of a batch are the same
 * event (the first occurrence wins), the periods each is attributed to, and the answer each input
 * gets once the transaction said which events were new. spend-writer.ts runs the transaction
 * between the two.
 */

const key = (e: { brandId: string; eventId: string }) => spendKey(e.brandId, e.eventId);

export interface BatchPlan {
  /** One input per (brand, event id): the first occurrence, sorted by brand then event id. */
  unique: SpendInput[];
  /** Per unique input (same order): its ledger key and its local day and month ("YYYY-MM-DD"). */
  keys: string[];
  days: string[];
  months: string[];
  /** The first instant after each one's day and month (epoch ms). */
  dayEnds: number[];
  monthEnds: number[];
  /** Index of the first occurrence of each key in the inputs. */
  first: Map<string, number>;
  /** Position of each key in `keys` (built when first needed). */
  index?: Map<string, number>;
}

/** What the transaction found: which events it inserted, the originals of the others, the periods. */
export interface BatchResult {
  /** Keys of the events this batch inserted. */
  fresh: Set<string>;
  /** The stored events of the keys the ledger held already. */
  originals: Map<string, StoredSpend>;
  /** Each brand's current day and month after the batch. */
  current: Map<string, { day: CurrentPeriod; month: CurrentPeriod }>;
  recordedAt: Date;
  /** Keys of the new events recorded outside their campaign's flight. */
  flagged: Set<string>;
}

/**
 * Step 1: the first occurrence of each event wins; each is attributed to its periods. Everything
 * per event is computed here once (keys, dates as strings), not in every step.
 */
export function planBatch(inputs: SpendInput[]): BatchPlan {
  const first = new Map<string, number>();
  const keyOf = inputs.map(key);
  keyOf.forEach((k, i) => {
    if (!first.has(k)) first.set(k, i);
  });
  const order = [...first.values()].sort((a, b) => compareInputs(inputs[a], inputs[b]));
  const unique = order.map((i) => at(inputs, i));
  const days: string[] = new Array<string>(unique.length);
  const months: string[] = new Array<string>(unique.length);
  const dayEnds: number[] = new Array<number>(unique.length);
  const monthEnds: number[] = new Array<number>(unique.length);
  // Consecutive events of one brand mostly share a day: format it once per span.
  let last: { day: CalendarDate; month: CalendarDate } | undefined;
  let lastZone = "";
  let lastDay = "";
  let lastMonth = "";
  let lastDayEnd = 0;
  let lastMonthEnd = 0;
  unique.forEach((e, j) => {
    const p = periodsOf(e.occurredAtMs, e.timeZone);
    if (p !== last || e.timeZone !== lastZone) {
      last = p;
      lastZone = e.timeZone;
      lastDay = formatDate(p.day);
      lastMonth = formatDate(p.month);
      lastDayEnd = startOfDay(addDays(p.day, 1), e.timeZone);
      lastMonthEnd = startOfDay(nextMonthStart(p.month), e.timeZone);
    }
    days[j] = lastDay;
    months[j] = lastMonth;
    dayEnds[j] = lastDayEnd;
    monthEnds[j] = lastMonthEnd;
  });
  return { unique, keys: order.map((i) => at(keyOf, i)), days, months, dayEnds, monthEnds, first };
}

/**
 * Step 3: one answer per input. The first occurrence of a newly inserted event is the event as
 * recorded; every other occurrence is compared with the stored original: the same body is a
 * duplicate (the original is answered), a different one ALREADY_EXISTS.
 */
export function answerBatch(inputs: SpendInput[], plan: BatchPlan, result: BatchResult): (SpendOutcome | Error)[] {
  return inputs.map((e, i) => {
    const k = key(e);
    const firstIndex = plan.first.get(k);
    const firstOfFresh = result.fresh.has(k) && firstIndex !== undefined;
    const stored = firstOfFresh
      ? storedFrom(at(inputs, firstIndex), result.recordedAt, periodsByKey(plan, k), result.flagged.has(k))
      : result.originals.get(k);
    const current = result.current.get(e.brandId);
    if (stored === undefined || current === undefined) {
      return new Error(`spend event ${e.eventId} of brand ${e.brandId} neither inserted nor found`);
    }
    const isNew = firstOfFresh && firstIndex === i;
    const differs = isNew ? [] : bodyDifference(e, stored);
    if (differs.length > 0) return alreadyRecorded(e.eventId, differs);
    return { duplicate: !isNew, event: stored, day: current.day, month: current.month };
  });
}

/** The fields in which a retry differs from the stored event (empty: the same event). */
export function bodyDifference(
  e: Pick<SpendInput, "amount" | "campaignId" | "occurredAtGiven" | "occurredAtMs">,
  stored: StoredSpend,
): string[] {
  const out: string[] = [];
  if (e.amount !== stored.amount) out.push("amount_micros");
  if (e.campaignId !== stored.campaignId) out.push("campaign_id");
  if (e.occurredAtGiven && e.occurredAtMs !== stored.occurredAt.getTime()) out.push("occurred_at");
  return out;
}

/** The answer to a retry whose body differs from the recorded event's. */
export function alreadyRecorded(eventId: string, differs: string[]): AlreadyExistsError {
  return new AlreadyExistsError(
    `event_id ${JSON.stringify(eventId)} was already recorded for this brand with a different ${differs.join(", ")}: ` +
      "nothing was changed",
  );
}

/** The day and month strings of a unique event (by key). */
function periodsByKey(plan: BatchPlan, k: string): { day: string; month: string } {
  plan.index ??= new Map(plan.keys.map((key, j) => [key, j]));
  const j = plan.index.get(k) ?? -1;
  return { day: at(plan.days, j), month: at(plan.months, j) };
}

function storedFrom(
  e: SpendInput,
  recordedAt: Date,
  p: { day: string; month: string },
  outsideFlight: boolean,
): StoredSpend {
  return {
    eventId: e.eventId,
    brandId: e.brandId,
    campaignId: e.campaignId,
    amount: e.amount,
    occurredAt: new Date(e.occurredAtMs),
    recordedAt,
    day: p.day,
    month: p.month,
    brandArchived: e.brandArchived,
    outsideFlight,
    reportedBy: e.reportedBy,
  };
}

/** By brand, then event id (the ledger's lock order). */
function compareInputs(a: SpendInput | undefined, b: SpendInput | undefined): number {
  return compare(a?.brandId ?? "", b?.brandId ?? "") || compare(a?.eventId ?? "", b?.eventId ?? "");
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `list[i]`, for an index this module computed from the list itself. */
function at<V>(list: readonly V[], i: number): V {
  const v = list[i];
  if (v === undefined) throw new Error(`spend batch: index ${i} outside its list`);
  return v;
}
