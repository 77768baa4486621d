import type { Verdict } from "./invariants.ts";

/** A boundary due while the process that applies it (the clocks worker, Temporal) was down. */
export interface HeldBoundary {
  what: string;
  /** When the transition was due (services' clock, ms). */
  dueAt: number;
  /** When the process it waited for was started again (services' clock, ms). */
  backAt: number;
  /** The transitions of that cause recorded at or after `dueAt` (services' clock, ms). */
  applied: number[];
}

/**
 * A boundary due during an outage was applied once, and no earlier than the process it needs was
 * started again (the workflow task or activity could not run before: a run without the outage
 * applies it milliseconds after it is due and fails this bound), and at most `slackMs` after.
 */
export function heldBoundaryVerdict(b: HeldBoundary, slackMs: number): Verdict {
  const first = b.applied[0];
  const problems: string[] = [];
  if (b.applied.length !== 1) problems.push(`${b.applied.length} transitions at or after the boundary, not 1`);
  if (first !== undefined) {
    if (first < b.backAt)
      problems.push(
        `applied ${b.backAt - first} ms before the process it needs was back: the outage did not hold it (the fault did not take effect)`,
      );
    if (first > b.backAt + slackMs)
      problems.push(`applied ${first - b.backAt} ms after the process was back (more than ${slackMs} ms)`);
  }
  return {
    name: `${b.what}: applied once, not before the outage ended, at most ${slackMs / 1000}s after`,
    ok: problems.length === 0,
    figures:
      first === undefined
        ? `${b.applied.length} transitions`
        : `${b.applied.length} transition(s), late ${((first - b.dueAt) / 1000).toFixed(1)}s, ${((first - b.backAt) / 1000).toFixed(1)}s after the restart (down ${((b.backAt - b.dueAt) / 1000).toFixed(1)}s past the boundary)`,
    problems,
  };
}
