/**
 * The daypart bench's ceiling: a workflow that does only what Temporal must do for a boundary
 * (a durable timer, a workflow task, a local activity) and nothing of ours (no campaign service
 * call, no transaction). Bundled by the bench's second worker, on its own task queue.
 */
import { proxyLocalActivities, sleep } from "@temporalio/workflow";

const { wallClock } = proxyLocalActivities<{ wallClock(): Promise<number> }>({ startToCloseTimeout: "10 seconds" });

/** Sleeps until `at` (epoch ms), then answers the wall clock of the local activity that ran then. */
export async function timerOnly(at: number): Promise<number> {
  await sleep(Math.max(1, at - Date.now()));
  return wallClock();
}
