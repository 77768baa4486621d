import { ConfigError } from "./config.js";
import type { Logger } from "./logger.js";
import { flushTracing, initTracing, TRACING_MODES, type TracingMode } from "./tracing.js";

/** What a service's main returns: how to stop it, in order. */
export interface Stoppable {
  stop(): Promise<void>;
}

/**
 * Runs a service's main with the behaviour every service shares: a configuration error prints
 * a clear message and exits 2 before anything starts; SIGTERM or SIGINT stops gracefully
 * (exit 0), a second signal exits at once; a crash on start exits 1.
 */
export function runService(name: string, start: () => Promise<{ logger: Logger; service: Stoppable }>): void {
  const tracing = process.env.TRACING ?? "off";
  if (!TRACING_MODES.includes(tracing)) {
    process.stderr.write(
      `${name}: invalid configuration:\n  - TRACING=${JSON.stringify(tracing)}: expected ${TRACING_MODES.join(", ")}\n`,
    );
    process.exit(2);
  }
  initTracing(tracing as TracingMode, name);
  start().then(
    ({ logger, service }) => {
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) {
          logger.warn({ signal }, "second signal: exiting now");
          process.exit(1);
        }
        stopping = true;
        logger.info({ signal }, "stopping");
        service
          .stop()
          .then(flushTracing)
          .then(
            () => process.exit(0),
            (err: unknown) => {
              logger.error({ err }, "error while stopping");
              process.exit(1);
            },
          );
      };
      process.on("SIGTERM", () => stop("SIGTERM"));
      process.on("SIGINT", () => stop("SIGINT"));
      process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection"));
    },
    (err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${name}: ${err.message}\n`);
        process.exit(2);
      }
      process.stderr.write(
        `${name}: failed to start: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
      );
      process.exit(1);
    },
  );
}
