import fc from "fast-check";
import { modelSchedule, runModelSchedule, startModelSystem } from "@adbudget/testing";

/** What the long model run found. */
export interface ModelSoakReport {
  runs: number;
  campaigns: number;
  spends: number;
  ops: number;
  /** The failing run's seed, path and divergences, if one diverged. */
  failure?: string;
}

/**
 * The model-based race test of e2e/src/serving-races.test.ts for `minutes`, on larger schedules
 * (four brands, up to 80 operations over six workers): every run a new random interleaving of
 * spend, limits, caps, pauses, zones, resets, daypart calls, midnights, redeliveries and
 * reconciliation against two replicas of each service, every campaign compared with the
 * reference model. A progress line every `reportEveryMs`; the first divergence ends it with its
 * seed (replay it with `MODEL_SEED=<seed>` in the test).
 */
export async function runModelSoak(
  minutes: number,
  log: (line: string) => void,
  reportEveryMs = 60_000,
): Promise<ModelSoakReport> {
  const sys = await startModelSystem();
  const report: ModelSoakReport = { runs: 0, campaigns: 0, spends: 0, ops: 0 };
  const started = Date.now();
  let lastReport = started;
  try {
    const result = await fc.check(
      fc.asyncProperty(modelSchedule({ brands: 4, maxOps: 80, workers: 6 }), async (schedule) => {
        const outcome = await runModelSchedule(sys, schedule);
        report.runs++;
        report.campaigns += outcome.campaigns;
        report.spends += outcome.spends;
        report.ops += outcome.ops;
        if (Date.now() - lastReport >= reportEveryMs) {
          lastReport = Date.now();
          log(
            `[model +${Math.round((Date.now() - started) / 1000)}s] ${report.runs} runs, ${report.ops} operations, ${report.spends} spends, ${report.campaigns} campaigns checked, no divergence`,
          );
        }
        if (outcome.divergences.length > 0) throw new Error(outcome.divergences.join("\n"));
      }),
      {
        numRuns: Number.MAX_SAFE_INTEGER,
        interruptAfterTimeLimit: minutes * 60_000,
        markInterruptAsFailure: false,
        endOnFailure: true,
      },
    );
    if (result.failed)
      report.failure = `seed ${result.seed}, path ${result.counterexamplePath}:\n${String(result.errorInstance)}`;
    return report;
  } finally {
    await sys.close();
  }
}
