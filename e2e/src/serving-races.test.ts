import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { modelSchedule, runModelSchedule, startModelSystem, type ModelSystem } from "@adbudget/testing";

/**
 * Issue 20: any interleaving of spend, limit and cap changes, pauses, zone changes, resets,
 * daypart clock calls, clock jumps across local midnights, redeliveries and reconciliation,
 * applied at once by several workers against two replicas of the budget and campaign services,
 * ends with every campaign in the state the reference model (written in @adbudget/testing from
 * the contract alone) gives for the current inputs. fast-check prints the seed and the shrunk
 * schedule of a failure (MODEL_SEED and MODEL_PATH replay it; MODEL_SHRINK=0 reports it
 * unshrunk); `npm run chaos` runs larger
 * schedules for half an hour (chaos/src/model-soak.ts); MODEL_RUNS here for more runs.
 */
let sys: ModelSystem;
beforeAll(async () => {
  sys = await startModelSystem();
});
afterAll(async () => {
  await sys?.close();
});

describe("the serving state under concurrent events", () => {
  it("every campaign ends as the reference model says, whatever the schedule", async () => {
    await fc.assert(
      fc.asyncProperty(modelSchedule({ brands: 3, maxOps: 40, workers: 4 }), async (schedule) => {
        const outcome = await runModelSchedule(sys, schedule);
        if (process.env.MODEL_LOG === "1")
          console.log(JSON.stringify({ ...outcome, divergences: outcome.divergences.length }));
        expect(outcome.divergences).toEqual([]);
      }),
      {
        numRuns: Number(process.env.MODEL_RUNS ?? 10),
        // A run takes about a second of real services: a failure shrinks for a few minutes at most.
        endOnFailure: process.env.MODEL_SHRINK === "0",
        ...(process.env.MODEL_SEED === undefined
          ? {}
          : { seed: Number(process.env.MODEL_SEED), path: process.env.MODEL_PATH }),
        verbose: 1,
      },
    );
  }, 900_000);
});
