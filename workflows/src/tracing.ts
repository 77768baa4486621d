import { context, propagation, SpanKind, SpanStatusCode, trace, type Link } from "@opentelemetry/api";
import { Context as ActivityContext } from "@temporalio/activity";
import type { WorkflowClientInterceptor } from "@temporalio/client";
import { defaultPayloadConverter, type Payload } from "@temporalio/common";
import type { ActivityInterceptorsFactory } from "@temporalio/worker";
import { currentTraceparent } from "@adbudget/kit";
import { TRACE_HEADER } from "./trace-header.js";

/**
 * OpenTelemetry across Temporal, in three small parts:
 * - the client (the clocks' event consumers) puts the current `traceparent` in the headers of
 *   every start and signal;
 * - the workflow interceptors (workflow-interceptors.ts) pass the latest one to each activity;
 * - each activity runs in a span of its own, LINKED to that cause rather than parented: a reset
 *   workflow lives for months, and one trace per midnight reads better than a trace that spans
 *   months. The activities call the services with typed clients that send the activity span's
 *   context, so the services' spans, the outbox rows and the NATS events that follow all join
 *   the activity's trace (a midnight reset -> OpenBudgetPeriod -> campaign.state events).
 */
export function traceHeaders(headers: Record<string, Payload>): Record<string, Payload> {
  const traceparent = currentTraceparent();
  return traceparent === null
    ? headers
    : { ...headers, [TRACE_HEADER]: defaultPayloadConverter.toPayload(traceparent) };
}

export const tracingClientInterceptor: WorkflowClientInterceptor = {
  async startWithDetails(input, next) {
    return next({ ...input, headers: traceHeaders(input.headers) });
  },
  async signal(input, next) {
    return next({ ...input, headers: traceHeaders(input.headers) });
  },
  async signalWithStart(input, next) {
    return next({ ...input, headers: traceHeaders(input.headers) });
  },
};

function causeLink(headers: Record<string, Payload>): Link[] {
  const payload = headers[TRACE_HEADER];
  if (payload === undefined) return [];
  try {
    const traceparent = defaultPayloadConverter.fromPayload<string>(payload);
    const span = trace.getSpanContext(propagation.extract(context.active(), { traceparent }));
    return span === undefined ? [] : [{ context: span, attributes: { "adbudget.link": "cause" } }];
  } catch {
    return [];
  }
}

/** Each activity execution as a span (kind INTERNAL), linked to the workflow's latest cause. */
export const activityTracing: ActivityInterceptorsFactory = (ctx: ActivityContext) => ({
  inbound: {
    async execute(input, next) {
      const info = ctx.info;
      const span = trace.getTracer("adbudget").startSpan(`activity ${info.activityType}`, {
        kind: SpanKind.INTERNAL,
        root: true,
        links: causeLink(input.headers),
        attributes: {
          "temporal.workflow_id": info.workflowExecution?.workflowId,
          "temporal.run_id": info.workflowExecution?.runId,
          "temporal.workflow_type": info.workflowType,
          "temporal.activity_type": info.activityType,
          "temporal.attempt": info.attempt,
          "temporal.task_queue": info.taskQueue,
        },
      });
      try {
        return await context.with(trace.setSpan(context.active(), span), () => next(input));
      } catch (err) {
        span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
        throw err;
      } finally {
        span.end();
      }
    },
  },
});
