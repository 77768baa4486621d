import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { temporal } from "@temporalio/proto";
import { Worker } from "@temporalio/worker";
import { describe, expect, it } from "vitest";
import { WORKFLOW_INTERCEPTORS_PATH, WORKFLOWS_PATH } from "./worker.js";

/**
 * Histories (binary protobuf) recorded from real runs, `<workflow>[-<label>].binpb`: each label is
 * a version of the code that ran workflows (kept, since such runs may still be open). Record one
 * with RECORD_HISTORIES=<label> npx vitest run workflows/src/clocks.test.ts.
 */
export const HISTORIES = join(import.meta.dirname, "histories");

describe("stored workflow histories replay with the current code", () => {
  const files = readdirSync(HISTORIES).filter((f) => f.endsWith(".binpb"));
  it("has histories of the workflows, from before and after the daypart state write became a local activity and flight dates came", () => {
    expect(files.sort()).toEqual([
      "budget-reset-local-activity.binpb",
      "budget-reset.binpb",
      "campaign-daypart-flight-dates.binpb",
      "campaign-daypart-flight-only.binpb",
      "campaign-daypart-local-activity.binpb",
      "campaign-daypart.binpb",
      "reconcile-local-activity.binpb",
    ]);
  });
  it.each(files)(
    "%s",
    async (file) => {
      const history = temporal.api.history.v1.History.decode(readFileSync(join(HISTORIES, file)));
      // Throws DeterminismViolationError if a code change would break running workflows.
      // The worker's workflow interceptors take part, as in production.
      await Worker.runReplayHistory(
        { workflowsPath: WORKFLOWS_PATH, interceptors: { workflowModules: [WORKFLOW_INTERCEPTORS_PATH] } },
        history,
        file,
      );
    },
    60_000,
  );
});
