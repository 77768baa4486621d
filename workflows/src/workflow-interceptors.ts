/**
 * Workflow interceptors (run in the workflow sandbox: deterministic, no OpenTelemetry here).
 * They remember the trace context of the latest cause — the start, or the newest signal that
 * carried one (a schedule change, a zone change) — and put it on every activity and on the
 * continue-as-new, so activity spans can link to the request that made the workflow act.
 * Headers are stored in history, so a replay sees the same values.
 */
import type { Payload, WorkflowInterceptorsFactory } from "@temporalio/workflow";
import { TRACE_HEADER } from "./trace-header.js";

export const interceptors: WorkflowInterceptorsFactory = () => {
  let cause: Payload | undefined;
  const withCause = <T extends { headers: Record<string, Payload> }>(input: T): T =>
    cause === undefined ? input : { ...input, headers: { ...input.headers, [TRACE_HEADER]: cause } };
  return {
    inbound: [
      {
        async execute(input, next) {
          cause = input.headers[TRACE_HEADER] ?? cause;
          return next(input);
        },
        async handleSignal(input, next) {
          cause = input.headers[TRACE_HEADER] ?? cause;
          return next(input);
        },
      },
    ],
    outbound: [
      {
        async scheduleActivity(input, next) {
          return next(withCause(input));
        },
        async continueAsNew(input, next) {
          return next(withCause(input));
        },
      },
    ],
  };
};
