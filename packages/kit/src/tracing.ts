import {
  context,
  propagation,
  SpanKind,
  SpanStatusCode,
  trace,
  type Context,
  type TextMapGetter,
} from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  NodeTracerProvider,
  SimpleSpanProcessor,
  BatchSpanProcessor,
} from "@opentelemetry/sdk-trace-node";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { JsonLinesSpanExporter, otlpSpanExporter } from "./span-exporter.js";

/**
 * OpenTelemetry traces across gRPC calls and NATS messages: one trace follows a call through
 * its commit, the outbox, JetStream, another service's consumer and what that consumer changes.
 * Context travels as W3C `traceparent` in gRPC metadata and in NATS headers
 * (stored with each outbox row, so the relay publishes the context of the change that wrote it).
 *
 * TRACING=off (default) | stdout (each span as one JSON line on stdout) | otlp (OTLP/HTTP to a
 * collector: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, default
 * http://localhost:4318) | memory (tests).
 */
export type TracingMode = "off" | "stdout" | "otlp" | "memory";

export const TRACING_MODES: readonly string[] = ["off", "stdout", "otlp"];

let provider: NodeTracerProvider | undefined;
let memory: InMemorySpanExporter | undefined;

/** Installs the process-wide tracer provider once; later calls keep the first one. */
export function initTracing(mode: TracingMode, serviceName: string): InMemorySpanExporter | undefined {
  if (mode === "off" || provider !== undefined) return memory;
  memory = mode === "memory" ? new InMemorySpanExporter() : undefined;
  provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": serviceName }),
    spanProcessors: [
      memory !== undefined
        ? new SimpleSpanProcessor(memory)
        : new BatchSpanProcessor(mode === "otlp" ? otlpSpanExporter() : new JsonLinesSpanExporter(), {
            scheduledDelayMillis: 1000,
          }),
    ],
  });
  provider.register();
  return memory;
}

/** Exports the spans still buffered (called on a graceful stop, before the process exits). */
export async function flushTracing(): Promise<void> {
  await provider?.forceFlush();
}

const tracer = () => trace.getTracer("adbudget");

const headerGetter: TextMapGetter<Headers> = {
  keys: (h) => [...h.keys()],
  get: (h, key) => h.get(key) ?? undefined,
};

/** Server side: continues the caller's trace (or starts one) for the call. */
export function createTracingInterceptor(service: string): Interceptor {
  return (next) => async (req) => {
    const parent = propagation.extract(context.active(), req.header, headerGetter);
    const span = tracer().startSpan(
      `${req.service.typeName}/${req.method.name}`,
      {
        kind: SpanKind.SERVER,
        attributes: {
          "rpc.system": "grpc",
          "rpc.service": req.service.typeName,
          "rpc.method": req.method.name,
          "service.name": service,
        },
      },
      parent,
    );
    try {
      const res = await context.with(trace.setSpan(parent, span), () => next(req));
      span.setStatus({ code: SpanStatusCode.OK });
      return res;
    } catch (err) {
      const code = ConnectError.from(err).code;
      span.setAttribute("rpc.grpc.status_code", code);
      if (code === Code.Internal || code === Code.Unknown) span.setStatus({ code: SpanStatusCode.ERROR });
      throw err;
    } finally {
      span.end();
    }
  };
}

/** Client side: sends the current trace context with the call (typed clients between services). */
export const tracePropagationInterceptor: Interceptor = (next) => async (req) => {
  propagation.inject(context.active(), req.header, { set: (h, k, v) => h.set(k, v) });
  return next(req);
};

/** The current context as a `traceparent` value (to store with an outbox row), or null. */
export function currentTraceparent(): string | null {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent ?? null;
}

/** Runs `fn` in a consumer span whose parent is the message's `traceparent` (if any). */
export async function withMessageSpan<T>(
  name: string,
  traceparent: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const parent: Context = traceparent ? propagation.extract(context.active(), { traceparent }) : context.active();
  const span = tracer().startSpan(
    name,
    { kind: SpanKind.CONSUMER, attributes: { "messaging.system": "nats" } },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), fn);
  } catch (err) {
    span.setStatus({ code: SpanStatusCode.ERROR });
    throw err;
  } finally {
    span.end();
  }
}
