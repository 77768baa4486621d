import type { ServiceConfig } from "./config.js";
import type { Logger } from "./logger.js";
import type { ServerOptions } from "./server.js";

/**
 * What a service started, to stop in reverse order: the last thing started (which depends on
 * the earlier ones) stops first. Errors while stopping are logged, not thrown: the rest must
 * still stop.
 */
export class StopStack {
  private readonly steps: (() => Promise<unknown>)[] = [];

  constructor(private readonly logger: Logger) {}

  push(step: () => Promise<unknown> | unknown): void {
    this.steps.unshift(async () => step());
  }

  async run(): Promise<void> {
    for (const step of this.steps.splice(0)) {
      await step().catch((err: unknown) => this.logger.warn({ err }, "error while stopping"));
    }
  }
}

/** The server options every service takes from its config alike. */
export function serverOptionsFrom(
  config: ServiceConfig,
): Pick<ServerOptions, "name" | "host" | "port" | "shutdownGraceMs" | "tls" | "metricsPort"> {
  return {
    name: config.name,
    host: config.host,
    port: config.port,
    shutdownGraceMs: config.shutdownGraceMs,
    tls: config.tlsCertFile ? { certFile: config.tlsCertFile, keyFile: config.tlsKeyFile } : undefined,
    metricsPort: config.metricsPort,
  };
}
