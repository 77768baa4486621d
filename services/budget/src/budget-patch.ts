import type { Limits } from "./budget-changes.js";

/**
 * What one SetBudget changes: a field that is present is set to its value (null = unlimited for
 * a limit, [] = no alerts); a field that is absent is kept as stored.
 */
export interface BudgetPatch {
  daily?: bigint | null;
  monthly?: bigint | null;
  alerts?: number[];
}

/** The stored limits after a patch: each limit the patch leaves out stays as it was. */
export function patchedLimits(before: Limits, patch: BudgetPatch): Limits {
  return {
    daily: patch.daily === undefined ? before.daily : patch.daily,
    monthly: patch.monthly === undefined ? before.monthly : patch.monthly,
  };
}
