import { InvalidArgumentError } from "@adbudget/kit";
import { PacingMode } from "@adbudget/proto/adbudget/budget/v1/budget_pb.js";
import type { Limits } from "./budget-changes.js";

/** The SetBudget request fields a patch reads (the generated message satisfies it). */
export interface SetBudgetFields {
  dailyLimitMicros?: bigint;
  monthlyLimitMicros?: bigint;
  alerts?: { percents: number[] };
  pacingMode?: PacingMode;
  updateMask?: { paths: string[] };
}

/** A stored pacing mode (budgets.pacing_mode). */
export type StoredPacing = PacingMode.PACED | PacingMode.ACCELERATED;

const STORED_PACING = new Map<number, StoredPacing>([
  [PacingMode.PACED, PacingMode.PACED],
  [PacingMode.ACCELERATED, PacingMode.ACCELERATED],
]);

/** A pacing mode as read from a column; undefined for null (rows from before modes) or anything else. */
export function storedPacing(v: number | null | undefined): StoredPacing | undefined {
  return v === null || v === undefined ? undefined : STORED_PACING.get(v);
}

/**
 * What one SetBudget changes: a field that is present is set to its value (null = unlimited for
 * a limit, [] = no alerts); a field that is absent is kept as stored.
 */
export interface BudgetPatch {
  daily?: bigint | null;
  monthly?: bigint | null;
  alerts?: number[];
  pacing?: StoredPacing;
}

/** The paths SetBudget's `update_mask` takes, as written in the request (snake_case, AIP-161). */
export const BUDGET_MASK_PATHS = ["daily_limit_micros", "monthly_limit_micros", "alerts", "pacing_mode"] as const;
type MaskPath = (typeof BUDGET_MASK_PATHS)[number];

/**
 * The change a SetBudget asks for, by AIP-134. With `update_mask`, exactly the named fields
 * change, and a named field the request leaves out is cleared: naming a limit and leaving it
 * out is the one way to make it unlimited, so no call clears a limit without saying so. Without
 * a mask (or with an empty one, which JSON callers send as `""`), the implied mask is the fields
 * the request populates: a call with only `alerts` keeps both limits. An unknown path is refused
 * whole (INVALID_ARGUMENT on `update_mask`): a misspelt path silently ignored would be a change
 * the caller believes was made.
 */
export function budgetPatch(req: SetBudgetFields): BudgetPatch {
  const paths = req.updateMask?.paths ?? [];
  const named = paths.length === 0 ? impliedMask(req) : explicitMask(paths);
  const patch: BudgetPatch = {};
  if (named.has("daily_limit_micros")) patch.daily = req.dailyLimitMicros ?? null;
  if (named.has("monthly_limit_micros")) patch.monthly = req.monthlyLimitMicros ?? null;
  if (named.has("alerts")) patch.alerts = req.alerts?.percents ?? [];
  // Named but unspecified: the default mode, as for a new budget.
  if (named.has("pacing_mode"))
    patch.pacing = req.pacingMode === PacingMode.ACCELERATED ? PacingMode.ACCELERATED : PacingMode.PACED;
  return patch;
}

/** The stored limits after a patch: each limit the patch leaves out stays as it was. */
export function patchedLimits(before: Limits, patch: BudgetPatch): Limits {
  return {
    daily: patch.daily === undefined ? before.daily : patch.daily,
    monthly: patch.monthly === undefined ? before.monthly : patch.monthly,
  };
}

function impliedMask(req: SetBudgetFields): Set<MaskPath> {
  const named = new Set<MaskPath>();
  if (req.dailyLimitMicros !== undefined) named.add("daily_limit_micros");
  if (req.monthlyLimitMicros !== undefined) named.add("monthly_limit_micros");
  if (req.alerts !== undefined) named.add("alerts");
  if (req.pacingMode !== undefined && req.pacingMode !== PacingMode.UNSPECIFIED) named.add("pacing_mode");
  return named;
}

function explicitMask(paths: string[]): Set<MaskPath> {
  const named = new Set<MaskPath>();
  const unknown: string[] = [];
  for (const path of paths) {
    if (path === "*") BUDGET_MASK_PATHS.forEach((p) => named.add(p));
    else if (isMaskPath(path)) named.add(path);
    else unknown.push(path);
  }
  if (unknown.length > 0) {
    const shown = unknown
      .slice(0, 5)
      .map((p) => JSON.stringify(p.length > 64 ? `${p.slice(0, 64)}...` : p))
      .join(", ");
    throw new InvalidArgumentError([
      {
        field: "update_mask",
        description: `unknown path ${shown}: SetBudget updates ${BUDGET_MASK_PATHS.map((p) => JSON.stringify(p)).join(", ")} or "*"`,
      },
    ]);
  }
  return named;
}

function isMaskPath(path: string): path is MaskPath {
  return (BUDGET_MASK_PATHS as readonly string[]).includes(path);
}
