import { pgClient, localDateOf, type ModelBrand } from "@adbudget/testing";
import type { Verdict } from "./invariants.ts";

/** One budget_periods row (kind 1 = day, 2 = month; periodStart "YYYY-MM-DD"). */
export interface PeriodRow {
  brandId: string;
  kind: number;
  periodStart: string;
  spent: bigint;
  limit: bigint | null;
  exhausted: boolean;
}

/**
 * Every period's `exhausted` flag says spent >= limit. Which limit:
 * - a period not yet ended (today, this month, or one opened early by a spend dated ahead) is
 *   held to the budget's limit now (a limit applies to every period not yet ended): its row's
 *   limit must be that one too, and its flag must follow it;
 * - an ended period keeps the limit it ended with (a limit never changes on an ended period), so
 *   its flag is judged against its row's own limit; spend that arrives late still counts toward it,
 *   so the flag must still follow its spend.
 */
/**
 * `brands`: each brand's zone and its budget's limits now, as BrandService and GetBudget answer
 * (readBrands).
 */
export function periodFlagsVerdict(rows: PeriodRow[], brands: Map<string, ModelBrand>, now: number): Verdict {
  const problems: string[] = [];
  let current = 0;
  let exhausted = 0;
  for (const r of rows) {
    const b = brands.get(r.brandId);
    const name = `${r.brandId} ${r.kind === 1 ? "day" : "month"} ${r.periodStart}`;
    if (b === undefined) {
      problems.push(`${name}: a period of a brand that BrandService/GetBudget do not know`);
      continue;
    }
    const today = localDateOf(now, b.zone);
    const ended = r.kind === 1 ? r.periodStart < today : r.periodStart < `${today.slice(0, 7)}-01`;
    let limit = r.limit;
    if (!ended) {
      current++;
      limit = r.kind === 1 ? b.dailyLimit : b.monthlyLimit;
      if (r.limit !== limit)
        problems.push(`${name}: not ended, row limit ${r.limit ?? "none"} but the budget's is ${limit ?? "none"}`);
    }
    const should = limit !== null && r.spent >= limit;
    if (r.exhausted) exhausted++;
    if (r.exhausted !== should)
      problems.push(
        `${name}: exhausted=${r.exhausted} with spent ${r.spent} and limit ${limit ?? "none"}${ended ? " (ended: its own limit)" : ""}`,
      );
  }
  return {
    name: "every period's exhausted flag is spent >= limit (current periods: the budget's limit; ended ones: the limit they ended with)",
    ok: problems.length === 0,
    figures: `${rows.length} periods (${current} not ended), ${exhausted} exhausted`,
    problems,
  };
}

/** Every row of budget_periods. */
export async function readPeriods(budgetDbUrl: string): Promise<PeriodRow[]> {
  const c = pgClient(budgetDbUrl);
  await c.connect();
  try {
    const { rows } = await c.query<{
      brand_id: string;
      kind: number;
      start: string;
      spent: string;
      lim: string | null;
      exhausted: boolean;
    }>(
      "select brand_id::text, kind, period_start::text as start, spent_micros::text as spent, limit_micros::text as lim, exhausted from budget_periods order by brand_id, kind, period_start",
    );
    return rows.map((r) => ({
      brandId: r.brand_id,
      kind: r.kind,
      periodStart: r.start,
      spent: BigInt(r.spent),
      limit: r.lim === null ? null : BigInt(r.lim),
      exhausted: r.exhausted,
    }));
  } finally {
    await c.end();
  }
}
