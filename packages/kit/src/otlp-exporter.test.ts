import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BasicTracerProvider, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-node";
import { expect, test } from "vitest";
import { otlpSpanExporter } from "./span-exporter.js";

/** A stand-in collector: records the OTLP/HTTP requests it receives. */
async function collector() {
  const received: { path: string; contentType: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      received.push({
        path: req.url ?? "",
        contentType: req.headers["content-type"] ?? "",
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`,
    received,
    close: () => server.close(),
  };
}

test("TRACING=otlp sends spans to a collector over OTLP/HTTP with their trace, parent and service", async () => {
  const c = await collector();
  try {
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ "service.name": "budget" }),
      spanProcessors: [new SimpleSpanProcessor(otlpSpanExporter(c.url))],
    });
    const span = provider.getTracer("test").startSpan("adbudget.budget.v1.BudgetService/RecordSpend");
    span.end();
    await provider.forceFlush();
    await provider.shutdown();

    expect(c.received.length).toBeGreaterThan(0);
    expect(c.received[0].path).toBe("/v1/traces");
    expect(c.received[0].contentType).toContain("application/json");
    const body = JSON.parse(c.received[0].body) as {
      resourceSpans: {
        resource: { attributes: { key: string; value: { stringValue?: string } }[] };
        scopeSpans: { spans: { traceId: string; name: string }[] }[];
      }[];
    };
    const rs = body.resourceSpans[0];
    expect(rs.resource.attributes.find((a) => a.key === "service.name")?.value.stringValue).toBe("budget");
    const sent = rs.scopeSpans[0].spans[0];
    expect(sent.name).toBe("adbudget.budget.v1.BudgetService/RecordSpend");
    expect(sent.traceId).toBe(span.spanContext().traceId);
  } finally {
    c.close();
  }
});
