import { BaseSequencer, type TestSpecification } from "vitest/node";

/**
 * The long test files start first, so the two workers end together. Without it vitest orders a
 * run that has no duration cache (a fresh clone, CI) by file size: the chaos run, a 20-line file,
 * started last and ran alone at the end, 543 s where the files' sum (801 s of tests and 93 s of
 * imports over two workers) allows ~450 s.
 *
 * Seconds are each file's own run in a fresh clone's `npm test` on this 2-core machine
 * (2026-12-03). The clocks suite takes one worker; the e2e files fill the other until the clocks
 * suite is nearly done, and only then the chaos run starts: the two heaviest (each with its own
 * Temporal dev server, the chaos run with a dozen processes) never start side by side.
 */
const LONG_FILES_FIRST = [
  "workflows/src/clocks.test.ts", // 206 s: real Temporal timers across minute boundaries
  "e2e/src/budget-lifecycle.test.ts", // 79 s
  "workflows/src/flight.test.ts", // 62 s
  "e2e/src/demo.test.ts", // 38 s
  "e2e/src/readme-walkthrough.test.ts", // 31 s
  "chaos/src/chaos.test.ts", // 167 s: every fault once, on processes
  "e2e/src/access.test.ts", // 28 s
  "workflows/src/calendar-boundary.test.ts", // 20 s
  "workflows/src/timers.test.ts", // 19 s
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
