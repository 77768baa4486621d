import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/**
 * JSON logs (pino) on stdout. One line per event, with `service` on every line and
 * `requestId` on every line written while serving a call, so one grep follows one request.
 */
export function createLogger(service: string, level = process.env.LOG_LEVEL ?? "info"): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    serializers: { err: pino.stdSerializers.err },
  });
}
