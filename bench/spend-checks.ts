/**
 * What the spend bench checks after its load, against the budget database itself: a benchmark
 * that loses or double-counts money, or leaves events unpublished, has measured nothing.
 */
import pg from "pg";

/** Acknowledged spend per brand (events the client saw succeed, with their amounts). */
export type Acknowledged = Map<string, { amount: bigint; count: number }>;

export interface Check {
  name: string;
  ok: boolean;
  figures: string;
}

export interface SpendExpectations {
  /** Events whose answers the client saw, per brand; those with `ghz.prefix` excluded. */
  acknowledged: Acknowledged;
  /** Events sent by ghz (ids starting with `prefix`): it reports how many calls were OK, not which. */
  ghz: { prefix: string; ok: number; sent: number; amount: bigint };
  /** Brands whose daily budget the load runs out: each must have published one exhausted event per exhausted period. */
  exhaustible: string[];
}

/** A check that holds when nothing drifted; otherwise its figures show the first three drifts. */
function noDrift<T>(name: string, drift: T[], whenOk: string, show: (row: T) => string): Check {
  return {
    name,
    ok: drift.length === 0,
    figures: drift.length === 0 ? whenOk : drift.slice(0, 3).map(show).join("; "),
  };
}

export async function checkSpend(databaseUrl: string, expect: SpendExpectations): Promise<Check[]> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const checks: Check[] = [];
  try {
    // 1. The ledger holds exactly what was acknowledged (client-tracked events, per brand).
    const { rows: ledger } = await pool.query<{
      brand_id: string;
      tracked: string;
      tracked_n: string;
      ghz: string;
      ghz_n: string;
      total: string;
    }>(
      `select brand_id::text,
              coalesce(sum(amount_micros) filter (where event_id not like $1 || '%'), 0)::text as tracked,
              count(*) filter (where event_id not like $1 || '%')::text as tracked_n,
              coalesce(sum(amount_micros) filter (where event_id like $1 || '%'), 0)::text as ghz,
              count(*) filter (where event_id like $1 || '%')::text as ghz_n,
              sum(amount_micros)::text as total
       from spend_events group by brand_id`,
      [expect.ghz.prefix],
    );
    const byBrand = new Map(ledger.map((r) => [r.brand_id, r]));
    const wrong: string[] = [];
    let events = 0;
    for (const [brandId, a] of expect.acknowledged) {
      const r = byBrand.get(brandId);
      events += a.count;
      if (r === undefined || BigInt(r.tracked) !== a.amount || Number(r.tracked_n) !== a.count) {
        wrong.push(
          `${brandId}: acknowledged ${a.count} events / ${a.amount}, stored ${r?.tracked_n ?? 0} / ${r?.tracked ?? 0}`,
        );
      }
    }
    for (const r of ledger)
      if (!expect.acknowledged.has(r.brand_id) && Number(r.tracked_n) > 0)
        wrong.push(`${r.brand_id}: ${r.tracked_n} events stored, none acknowledged`);
    checks.push({
      name: "ledger = acknowledged, per brand (Node client)",
      ok: wrong.length === 0,
      figures:
        wrong.length === 0 ? `${events} events on ${expect.acknowledged.size} brands` : wrong.slice(0, 3).join("; "),
    });

    // 2. ghz: every OK call stored once; a failed call may or may not be (indeterminate).
    const ghzN = ledger.reduce((n, r) => n + Number(r.ghz_n), 0);
    const ghzSum = ledger.reduce((n, r) => n + BigInt(r.ghz), 0n);
    const ghzOk = ghzN >= expect.ghz.ok && ghzN <= expect.ghz.sent && ghzSum === BigInt(ghzN) * expect.ghz.amount;
    checks.push({
      name: "ledger holds every call ghz saw OK, none twice",
      ok: ghzOk,
      figures: `${expect.ghz.ok} OK of ${expect.ghz.sent} sent, ${ghzN} stored, sum ${ghzSum}`,
    });

    // 3. Period totals equal the ledger, per brand, for days and for months.
    const { rows: periods } = await pool.query<{ brand_id: string; kind: number; spent: string; n: string }>(
      "select brand_id::text, kind, sum(spent_micros)::text as spent, sum(event_count)::text as n from budget_periods group by brand_id, kind",
    );
    const drift = periods.filter((p) => BigInt(p.spent) !== BigInt(byBrand.get(p.brand_id)?.total ?? "0"));
    checks.push(
      noDrift(
        "period totals = ledger sums (day and month, per brand)",
        drift,
        `${periods.length} brand-kinds`,
        (p) => `${p.brand_id} kind ${p.kind}: ${p.spent}`,
      ),
    );

    // 3b. Each campaign's day totals equal the ledger (GetCampaignSpend's source).
    const { rows: campaignDrift } = await pool.query<{
      brand_id: string;
      campaign_id: string;
      day: string;
      kept: string | null;
      ledger: string | null;
    }>(
      `select coalesce(c.brand_id, l.brand_id)::text as brand_id, coalesce(c.campaign_id, l.campaign_id)::text as campaign_id,
              coalesce(c.day, l.day)::text as day, c.spent_micros::text as kept, l.spent::text as ledger
       from campaign_day_spend c
       full join (select brand_id, campaign_id, day, sum(amount_micros) as spent from spend_events group by 1, 2, 3) l
         on l.brand_id = c.brand_id and l.campaign_id = c.campaign_id and l.day = c.day
       where c.spent_micros is distinct from l.spent`,
    );
    const {
      rows: [campaignDays],
    } = await pool.query<{ n: string }>("select count(*)::text as n from campaign_day_spend");
    checks.push(
      noDrift(
        "campaign day totals = ledger sums (per brand, campaign and day)",
        campaignDrift,
        `${campaignDays.n} campaign-days`,
        (r) => `${r.campaign_id} ${r.day}: kept ${r.kept}, ledger ${r.ledger}`,
      ),
    );

    // 4. Each exhausted period published exactly one exhausted event; every brand ran out.
    const { rows: ex } = await pool.query<{ brand_id: string; periods: string; events: string }>(
      `select b.id as brand_id,
              (select count(*) from budget_periods p where p.brand_id = b.id and p.exhausted)::text as periods,
              (select count(*) from outbox o where o.aggregate_id = b.id::text and o.subject like '%.budget.exhausted.%')::text as events
       from unnest($1::uuid[]) as b(id)`,
      [expect.exhaustible],
    );
    const badEx = ex.filter((r) => r.periods === "0" || r.periods !== r.events);
    checks.push({
      name: "every brand ran out; one exhausted event per exhausted period",
      ok: badEx.length === 0,
      figures:
        badEx.length === 0
          ? `${ex.length} brands, ${ex.reduce((n, r) => n + Number(r.events), 0)} events`
          : badEx
              .slice(0, 3)
              .map((r) => `${r.brand_id}: ${r.periods} periods, ${r.events} events`)
              .join("; "),
    });

    // 5. The outbox drains (the relay publishes everything to JetStream).
    let pending = -1;
    for (const deadline = Date.now() + 30_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 200))) {
      pending = Number(
        (await pool.query<{ n: string }>("select count(*)::text as n from outbox where published_at is null")).rows[0]
          .n,
      );
      if (pending === 0) break;
    }
    checks.push({ name: "outbox drained", ok: pending === 0, figures: `${pending} unpublished` });
  } finally {
    await pool.end();
  }
  return checks;
}
