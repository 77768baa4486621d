import { defineConfig } from "vitest/config";
import base from "../vitest.config.ts";

/**
 * The calendar check's replays (scripts/test-calendar.sh): the date-sensitive suites, once per
 * worst wall-clock moment, each moment a vitest project of its own whose TEST_NOW moves the
 * tests' base clock there and whose TEST_ZONE puts their date-neutral brands in its zone. One
 * run packs every moment's files onto the two workers: four runs one after the other each
 * started its workers and imports again and idled at its tail (148 s for the four, measured in
 * a fresh clone's npm test).
 *
 * The clocks' suite (real Temporal timers, four minutes) is not replayed: the crossing in
 * test-calendar.sh runs the reset's activities across each boundary, and the suite runs in the
 * main vitest run.
 */
const SUITES = [
  "services/budget/src/limits.test.ts",
  "services/budget/src/periods.test.ts",
  "services/budget/src/ledger-edges.test.ts",
  "services/budget/src/concurrency.test.ts",
  "services/campaign/src/budget-loop.test.ts",
  "services/campaign/src/edges.test.ts",
  "services/campaign/src/campaign-api.test.ts",
  "services/campaign/src/campaign-cap.test.ts",
  "workflows/src/reconcile.test.ts",
];

/** CALENDAR_INSTANTS: scripts/calendar-instants.ts's lines, "<ISO instant> <zone> <what>". */
const moments = (process.env.CALENDAR_INSTANTS ?? "")
  .split("\n")
  .map((line) => line.trim().split(/\s+/))
  .filter((fields) => fields.length === 3);
if (moments.length === 0) throw new Error("CALENDAR_INSTANTS names no moment (scripts/test-calendar.sh sets it)");

/**
 * Each project takes the main config's settings but its include: `extends: true` would merge the
 * two include lists (every test file, once per moment), so the settings are copied instead.
 */
const { include: _everyFile, ...shared } = base.test ?? {};

export default defineConfig({
  test: {
    ...shared,
    projects: moments.map(([at = "", zone = "", what = ""]) => ({
      test: { ...shared, name: `${what} ${zone}`, include: SUITES, env: { TEST_NOW: at, TEST_ZONE: zone } },
    })),
  },
});
