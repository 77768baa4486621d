import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "@adbudget/kit";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import { budgetPatch, patchedLimits, type BudgetPatch, type SetBudgetFields } from "./budget-patch.js";

const mask = (...paths: string[]) => ({ updateMask: { paths } });

describe("budgetPatch: what a SetBudget changes (AIP-134)", () => {
  it.each<[string, SetBudgetFields, BudgetPatch]>([
    [
      "no mask, both limits: both set",
      { dailyLimitMicros: 5n, monthlyLimitMicros: 100n },
      { daily: 5n, monthly: 100n },
    ],
    [
      "no mask, alerts only: limits kept (the README's alert example)",
      { alerts: { percents: [50, 80] } },
      { alerts: [50, 80] },
    ],
    ["no mask, daily only: monthly and alerts kept", { dailyLimitMicros: 7n }, { daily: 7n }],
    ["no mask, a limit of 0 is populated: set", { monthlyLimitMicros: 0n }, { monthly: 0n }],
    ["no mask, an empty alerts list is populated: alerts cleared", { alerts: { percents: [] } }, { alerts: [] }],
    ["no mask, nothing: nothing changes", {}, {}],
    ["empty mask: the implied mask", { dailyLimitMicros: 3n, ...mask() }, { daily: 3n }],
    ["mask names daily, leaves it out: daily cleared (unlimited)", { ...mask("daily_limit_micros") }, { daily: null }],
    [
      "mask names daily only: a monthly value sent beside it is ignored",
      { dailyLimitMicros: 1n, monthlyLimitMicros: 2n, ...mask("daily_limit_micros") },
      { daily: 1n },
    ],
    ["mask names alerts, leaves them out: alerts cleared", { dailyLimitMicros: 1n, ...mask("alerts") }, { alerts: [] }],
    [
      "mask * : everything replaced, the absent cleared",
      { monthlyLimitMicros: 9n, ...mask("*") },
      { daily: null, monthly: 9n, alerts: [], pacing: PacingMode.PACED },
    ],
    [
      "no mask, accelerated pacing is populated: set",
      { pacingMode: PacingMode.ACCELERATED },
      { pacing: PacingMode.ACCELERATED },
    ],
    ["no mask, unspecified pacing: kept", { pacingMode: PacingMode.UNSPECIFIED }, {}],
    ["mask names pacing, leaves it out: the default, paced", { ...mask("pacing_mode") }, { pacing: PacingMode.PACED }],
    [
      "mask with a path twice",
      { dailyLimitMicros: 4n, ...mask("daily_limit_micros", "daily_limit_micros") },
      { daily: 4n },
    ],
  ])("%s", (_name, req, want) => {
    expect(budgetPatch(req)).toEqual(want);
  });

  it.each([["dailyLimitMicros"], ["brand_id"], ["alerts.percents"], ["daily_limit_micros", "nope"], [""]])(
    "refuses the mask %j with update_mask named",
    (...paths) => {
      let err: unknown;
      try {
        budgetPatch({ dailyLimitMicros: 1n, ...mask(...paths) });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidArgumentError);
      expect((err as InvalidArgumentError).violations.map((v) => v.field)).toEqual(["update_mask"]);
      expect((err as InvalidArgumentError).violations[0].description).toContain(
        '"daily_limit_micros", "monthly_limit_micros", "alerts", "pacing_mode" or "*"',
      );
    },
  );
});

describe("patchedLimits", () => {
  const before = { daily: 10n, monthly: 300n };
  it.each<[string, BudgetPatch, { daily: bigint | null; monthly: bigint | null }]>([
    ["keeps what the patch leaves out", { alerts: [50] }, before],
    ["sets a limit", { daily: 20n }, { daily: 20n, monthly: 300n }],
    ["clears a limit named absent", { monthly: null }, { daily: 10n, monthly: null }],
    ["sets 0", { daily: 0n }, { daily: 0n, monthly: 300n }],
  ])("%s", (_name, patch, want) => {
    expect(patchedLimits(before, patch)).toEqual(want);
  });
});
