import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The long test files start first, so the two workers end together. Without it vitest orders a
 * run that has no duration cache (a fresh clone, CI) by file size: the chaos run, a 20-line file,
 * started last and ran alone at the end, 543 s where the files' sum (801 s of tests and 93 s of
 * imports over two workers) allows ~450 s.
 *
 * Seconds are each file's own run in a fresh clone's `npm test` on this 2-core machine
 * (2026-12-03). The clocks' suite (real Temporal timers, 212 s, a third of a core) is not here:
 * scripts/test.sh runs it beside this run. The chaos run (a dozen processes) starts once the
 * long e2e files have had their turn, when the clocks' suite is near its end.
 */
const LONG_FILES_FIRST = [
  "e2e/src/budget-lifecycle.test.ts", // 80 s
  "workflows/src/flight.test.ts", // 62 s
  "e2e/src/demo.test.ts", // 39 s
  "e2e/src/readme-walkthrough.test.ts", // 40 s
  "e2e/src/access.test.ts", // 38 s
  "workflows/src/calendar-boundary.test.ts", // 21 s
  "e2e/src/hostile-input.test.ts", // 20 s
  "workflows/src/timers.test.ts", // 19 s
  "packages/testing/src/pg-failover.test.ts", // 30 s, mostly waiting: a pg_auto_failover pair fails over
  "chaos/src/chaos.test.ts", // 167 s: every fault once, on processes
];

function rank(spec: TestSpecification): number {
  const i = LONG_FILES_FIRST.findIndex((file) => spec.moduleId.endsWith(`/${file}`));
  return i === -1 ? LONG_FILES_FIRST.length : i;
}

/** vitest's order (a cached run's: failed first, then slowest), with LONG_FILES_FIRST ahead of it. */
export class LongFilesFirstSequencer extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const sorted = await super.sort(files);
    // Array.prototype.sort is stable: the files not listed keep vitest's order after the listed ones.
    return sorted.sort((a, b) => rank(a) - rank(b));
  }
}
