import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-node";

/** ExportResultCode.SUCCESS and FAILED of @opentelemetry/core (not imported: two constants). */
const SUCCESS = 0;
const FAILED = 1;

const hrMs = (t: [number, number]): number => t[0] * 1000 + t[1] / 1e6;

/** One finished span as one JSON object, shaped like our pino log lines. */
export function spanRecord(span: ReadableSpan): Record<string, unknown> {
  const ctx = span.spanContext();
  return {
    level: "info",
    time: new Date(hrMs(span.startTime)).toISOString(),
    service: span.resource.attributes["service.name"],
    msg: "span",
    name: span.name,
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    kind: span.kind,
    durationMs: Math.round(hrMs(span.duration) * 1000) / 1000,
    status: span.status.code,
    attributes: span.attributes,
    links:
      span.links.length === 0
        ? undefined
        : span.links.map((l) => ({ traceId: l.context.traceId, spanId: l.context.spanId })),
  };
}

/**
 * TRACING=stdout: each span as one JSON line on stdout, between the pino log lines. The SDK's
 * ConsoleSpanExporter prints multi-line JavaScript object dumps that a log pipeline cannot
 * parse; this keeps stdout one JSON object per line, so `grep <traceId>` follows a trace
 * across the services' logs and a collector agent can pick spans out by `"msg":"span"`.
 */
export class JsonLinesSpanExporter implements SpanExporter {
  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(line)) {}

  export(spans: ReadableSpan[], done: (result: { code: number; error?: Error }) => void): void {
    try {
      this.write(spans.map((s) => JSON.stringify(spanRecord(s)) + "\n").join(""));
      done({ code: SUCCESS });
    } catch (error) {
      done({ code: FAILED, error: error instanceof Error ? error : new Error(String(error)) });
    }
  }

  async shutdown(): Promise<void> {}

  async forceFlush(): Promise<void> {}
}

/**
 * TRACING=otlp: spans to an OpenTelemetry collector (or Jaeger, Tempo...) over OTLP/HTTP JSON.
 * Without `url`, the exporter reads the standard OTEL_EXPORTER_OTLP_TRACES_ENDPOINT /
 * OTEL_EXPORTER_OTLP_ENDPOINT variables (default http://localhost:4318/v1/traces).
 */
export function otlpSpanExporter(url?: string): SpanExporter {
  return new OTLPTraceExporter(url === undefined ? {} : { url });
}
