import { defineConfig } from "vitest/config";
import { LongFilesFirstSequencer } from "./scripts/vitest-sequencer.ts";

/**
 * One vitest run over every workspace. Tests talk to real PostgreSQL, NATS and Temporal
 * (started by scripts/test.sh); each test file makes its own database, subjects and task queue,
 * so files run in parallel safely.
 */
export default defineConfig({
  test: {
    include: ["{packages,services,workflows,proto,bench,e2e,chaos}/**/src/**/*.test.ts", "scripts/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    globalSetup: ["./scripts/vitest-global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    maxWorkers: 2,
    sequence: { sequencer: LongFilesFirstSequencer },
    reporters: ["default"],
  },
});
