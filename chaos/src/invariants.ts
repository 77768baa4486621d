import { pgClient } from "@adbudget/testing";
import { fromBinary } from "@bufbuild/protobuf";
import pg from "pg";
import { formatDate, periodsOf } from "@adbudget/time";
import {
  BudgetEventType,
  BudgetPeriodEventSchema,
  CampaignCapEventSchema,
} from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import type { EventRecord } from "./load.ts";
import type { StreamMessage } from "./streams.ts";

/** One invariant's verdict, with the figures that decided it (printed either way). */
export interface Verdict {
  name: string;
  ok: boolean;
  figures: string;
  problems: string[];
}

/** One query on a fresh connection (the invariants read each database a few times, at the end). */
export async function query<T extends pg.QueryResultRow>(
  url: string,
  sql: string,
  values: unknown[] = [],
): Promise<T[]> {
  const c = pgClient(url);
  await c.connect();
  try {
    return (await c.query<T>(sql, values)).rows;
  } finally {
    await c.end();
  }
}

/**
 * Money: per brand and local day, acknowledged <= stored <= acknowledged + indeterminate; every
 * acknowledged event stored, once; no refused event stored; every period total equal to the sum
 * of its ledger.
 */
export async function ledgerInvariants(
  budgetDbUrl: string,
  records: EventRecord[],
  zoneOf: (brandId: string) => string,
): Promise<Verdict[]> {
  const ids = records.map((r) => r.eventId);
  const stored = await query<{ brand_id: string; event_id: string; amount: string; day: string; month: string }>(
    budgetDbUrl,
    "select brand_id::text, event_id, amount_micros::text as amount, day::text, month::text from spend_events where event_id = any($1::text[])",
    [ids],
  );
  const storedById = new Map<string, (typeof stored)[number][]>();
  for (const s of stored) storedById.set(s.event_id, [...(storedById.get(s.event_id) ?? []), s]);
  const problems: string[] = [];
  const per = new Map<string, { ack: bigint; indet: bigint; stored: bigint }>();
  const slot = (k: string) => per.get(k) ?? per.set(k, { ack: 0n, indet: 0n, stored: 0n }).get(k)!;
  for (const r of records) {
    const key = `${r.brandId} ${formatDate(periodsOf(r.occurredAtMs, zoneOf(r.brandId)).day)}`;
    const rows = storedById.get(r.eventId) ?? [];
    if (rows.length > 1) problems.push(`${r.eventId} stored ${rows.length} times`);
    if (r.outcome === "ok") slot(key).ack += r.amount;
    if (r.outcome === "indeterminate") slot(key).indet += r.amount;
    if (r.outcome === "ok" && rows.length === 0) problems.push(`${r.eventId} acknowledged but not stored (LOST)`);
    if (r.outcome === "failed" && rows.length > 0)
      problems.push(`${r.eventId} refused (${r.codes.join(",")}) but stored`);
    for (const row of rows) {
      if (BigInt(row.amount) !== r.amount)
        problems.push(`${r.eventId} stored with amount ${row.amount}, sent ${r.amount}`);
      slot(`${row.brand_id} ${row.day}`).stored += BigInt(row.amount);
    }
  }
  for (const [k, v] of per) {
    if (v.stored < v.ack || v.stored > v.ack + v.indet)
      problems.push(`${k}: acknowledged ${v.ack} <= stored ${v.stored} <= ${v.ack + v.indet} does not hold`);
  }
  const retried = records.filter((r) => r.attempts > 1);
  const sums = await query<{ brand_id: string; kind: number; start: string; spent: string; ledger: string }>(
    budgetDbUrl,
    `select p.brand_id::text, p.kind, p.period_start::text as start, p.spent_micros::text as spent,
            coalesce((select sum(amount_micros) from spend_events e where e.brand_id = p.brand_id
                      and (case p.kind when 1 then e.day else e.month end) = p.period_start), 0)::text as ledger
     from budget_periods p`,
  );
  const totals = sums
    .filter((s) => s.spent !== s.ledger)
    .map((s) => `period ${s.brand_id} ${s.kind} ${s.start}: total ${s.spent}, ledger ${s.ledger}`);
  const lost = problems.filter((p) => p.includes("LOST")).length;
  return [
    {
      name: "acknowledged <= stored <= acknowledged + indeterminate, per brand and day; acknowledged never lost; refused never stored; stored once",
      ok: problems.length === 0,
      figures: `${records.length} events: ${records.filter((r) => r.outcome === "ok").length} acknowledged, ${records.filter((r) => r.outcome === "indeterminate").length} indeterminate, ${records.filter((r) => r.outcome === "failed").length} refused, ${retried.length} retried, ${lost} lost, ${per.size} brand-days`,
      problems,
    },
    {
      name: "every period total equals the sum of its ledger",
      ok: totals.length === 0,
      figures: `${sums.length} periods`,
      problems: totals,
    },
  ];
}

/**
 * Events: every period that crossed its limit published exactly one exhausted event (distinct
 * Nats-Msg-Id), every campaign day at its cap one cap event, and every outbox drained.
 * `budgetMessages` is the budget stream read in full (streams.ts). A message without a
 * `Nats-Msg-Id` is a problem here, never counted as an id: without it JetStream cannot dedupe a
 * retried publish, so "exactly one" would be unknowable.
 */
export async function eventInvariants(
  budgetMessages: StreamMessage[],
  budgetDbUrl: string,
  outboxDbUrls: Record<string, string>,
): Promise<Verdict[]> {
  const exhausted = new Map<string, Set<string>>();
  /** Cap events of campaigns that reached their cap, by "<campaign> <day>": their message ids. */
  const capped = new Map<string, Set<string>>();
  const problems: string[] = [];
  const capProblems: string[] = [];
  for (const m of budgetMessages) {
    // Alerts and pacing throttles: other message types, not counted here.
    if (m.subject.includes(".budget.threshold.") || m.subject.includes(".budget.throttle.")) continue;
    if (m.subject.includes(".budget.campaign_")) {
      // Campaign caps: another message type, counted apart.
      const c = fromBinary(CampaignCapEventSchema, m.data);
      // Lifetime budgets (no day): the chaos run sets none, so none is judged here.
      if (c.type !== BudgetEventType.EXHAUSTED || c.lifetime) continue;
      const key = `${c.campaignId} ${formatDate(c.period!.start!)}`;
      if (m.msgId === undefined) capProblems.push(`${key}: cap event at seq ${m.seq} without Nats-Msg-Id`);
      else capped.set(key, (capped.get(key) ?? new Set()).add(m.msgId));
      continue;
    }
    const e = fromBinary(BudgetPeriodEventSchema, m.data);
    if (e.type !== BudgetEventType.EXHAUSTED) continue;
    const key = `${e.brandId} ${e.period?.kind} ${formatDate(e.period!.start!)}`;
    if (m.msgId === undefined) problems.push(`${key}: exhausted event at seq ${m.seq} without Nats-Msg-Id`);
    else exhausted.set(key, (exhausted.get(key) ?? new Set()).add(m.msgId));
  }
  const crossed = await query<{ key: string }>(
    budgetDbUrl,
    "select brand_id::text || ' ' || kind || ' ' || period_start::text as key from budget_periods where exhausted",
  );
  for (const { key } of crossed) {
    const n = exhausted.get(key)?.size ?? 0;
    if (n !== 1) problems.push(`${key}: ${n} exhausted events published`);
  }
  for (const [key, ids] of exhausted)
    if (!crossed.some((c) => c.key === key))
      problems.push(`${key}: ${ids.size} exhausted events for a period that is not exhausted`);
  // Campaign day totals at their cap: one cap event each (no cap is raised in the run).
  const atCap = await query<{ key: string }>(
    budgetDbUrl,
    "select campaign_id::text || ' ' || day::text as key from campaign_day_spend where cap_exhausted",
  );
  for (const { key } of atCap) {
    const n = capped.get(key)?.size ?? 0;
    if (n !== 1) capProblems.push(`${key}: ${n} cap events published`);
  }
  for (const [key, ids] of capped)
    if (!atCap.some((c) => c.key === key))
      capProblems.push(`${key}: ${ids.size} cap events for a campaign day not at its cap`);
  const pending: string[] = [];
  for (const [name, url] of Object.entries(outboxDbUrls)) {
    const [{ n }] = await query<{ n: string }>(
      url,
      "select count(*)::text as n from outbox where published_at is null",
    );
    if (n !== "0") pending.push(`${name}: ${n} events still in the outbox`);
  }
  return [
    {
      name: "every period that crossed its limit published exactly one exhausted event",
      ok: problems.length === 0,
      figures: `${crossed.length} exhausted periods, ${exhausted.size} with events`,
      problems,
    },
    {
      name: "every campaign day that reached its cap published exactly one cap event",
      ok: capProblems.length === 0,
      figures: `${atCap.length} campaign days at their cap`,
      problems: capProblems,
    },
    {
      name: "every outbox drained",
      ok: pending.length === 0,
      figures: Object.keys(outboxDbUrls).join(", "),
      problems: pending,
    },
  ];
}

/** The same pause reasons, in any order (the contract names no order). */
const sameReasons = (a: number[], b: number[]) => [...a].sort().join(",") === [...b].sort().join(",");

/** What a campaign should be, given what the other services say now. */
export interface CampaignTruth {
  id: string;
  serving: boolean;
  reasons: number[];
}

/**
 * Campaigns: every campaign ends in the state the serving rule gives for its inputs (read from
 * the services), and every watcher (one per campaign replica, reconnecting through the faults)
 * shows that final state. `truth()` is polled until it holds or `timeoutMs` passes: the time it
 * took is the convergence time.
 */
export async function campaignInvariants(
  actual: () => Promise<Map<string, { serving: boolean; reasons: number[] }>>,
  truth: () => Promise<CampaignTruth[]>,
  watchers: { name: string; latest: Map<string, { serving: boolean; pauseReasons: number[] }> }[],
  timeoutMs: number,
): Promise<{ verdicts: Verdict[]; convergedMs: number }> {
  const started = Date.now();
  let problems: string[] = [];
  let expected: CampaignTruth[] = [];
  while (Date.now() - started < timeoutMs) {
    expected = await truth();
    const now = await actual();
    problems = expected
      .filter((t) => {
        const a = now.get(t.id);
        return a === undefined || a.serving !== t.serving || !sameReasons(a.reasons, t.reasons);
      })
      .map(
        (t) =>
          `${t.id}: is ${JSON.stringify(now.get(t.id))}, the rule says ${JSON.stringify({ serving: t.serving, reasons: t.reasons })}`,
      );
    if (problems.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const convergedMs = Date.now() - started;
  // The watchers get a moment to see the last commits.
  let watchProblems: string[];
  const watchDeadline = Date.now() + 10_000;
  do {
    watchProblems = [];
    for (const w of watchers) {
      for (const t of expected) {
        const seen = w.latest.get(t.id);
        if (seen === undefined || seen.serving !== t.serving || !sameReasons(seen.pauseReasons, t.reasons)) {
          watchProblems.push(
            `${w.name} shows ${t.id} as ${JSON.stringify(seen && { serving: seen.serving, reasons: seen.pauseReasons })}`,
          );
        }
      }
    }
    if (watchProblems.length === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() < watchDeadline);
  return {
    convergedMs,
    verdicts: [
      {
        name: "every campaign ends in the state the serving rule gives for its inputs",
        ok: problems.length === 0,
        figures: `${expected.length} campaigns, converged in ${(convergedMs / 1000).toFixed(1)} s`,
        problems,
      },
      {
        name: "WatchCampaigns on every replica saw the final state",
        ok: watchProblems.length === 0,
        figures: `${watchers.length} watchers`,
        problems: watchProblems,
      },
    ],
  };
}
