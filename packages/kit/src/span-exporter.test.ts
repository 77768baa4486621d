import { context, SpanKind, trace } from "@opentelemetry/api";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { expect, test } from "vitest";
import { JsonLinesSpanExporter } from "./span-exporter.js";

test("each span is one JSON line with its trace, parent, links, service and attributes", async () => {
  const lines: string[] = [];
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ "service.name": "budget" }),
    spanProcessors: [new SimpleSpanProcessor(new JsonLinesSpanExporter((l) => lines.push(l)))],
  });
  const tracer = provider.getTracer("test");
  const parent = tracer.startSpan("parent", { kind: SpanKind.SERVER });
  const linkTo = tracer.startSpan("other");
  const child = tracer.startSpan(
    "child",
    { attributes: { "rpc.method": "RecordSpend" }, links: [{ context: linkTo.spanContext() }] },
    trace.setSpan(context.active(), parent),
  );
  child.end();
  parent.end();
  linkTo.end();
  await provider.forceFlush();

  const out = lines
    .join("")
    .split("\n")
    .filter((l) => l !== "");
  expect(out).toHaveLength(3);
  const records = out.map((l) => JSON.parse(l) as Record<string, unknown>);
  const c = records.find((r) => r.name === "child")!;
  expect(c).toMatchObject({
    msg: "span",
    service: "budget",
    traceId: parent.spanContext().traceId,
    parentSpanId: parent.spanContext().spanId,
    attributes: { "rpc.method": "RecordSpend" },
    links: [{ traceId: linkTo.spanContext().traceId, spanId: linkTo.spanContext().spanId }],
  });
  expect(typeof c.durationMs).toBe("number");
  expect(new Date(String(c.time)).getTime()).not.toBeNaN();
  const p = records.find((r) => r.name === "parent")!;
  expect(p.kind).toBe(SpanKind.SERVER);
  expect(p).not.toHaveProperty("parentSpanId");
  expect(p).not.toHaveProperty("links");
});
