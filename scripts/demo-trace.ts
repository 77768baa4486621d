/**
 * Prints one trace from the services' JSON log files (TRACING=stdout writes each span as a
 * line with "msg":"span"), as an indented tree: what one request caused across processes.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface SpanLine {
  service: string;
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  time: string;
  durationMs: number;
}

export function readSpans(dir: string, traceId: string): SpanLine[] {
  if (!existsSync(dir)) return [];
  const spans: SpanLine[] = [];
  for (const f of readdirSync(dir).filter((f) => f.endsWith(".log"))) {
    for (const line of readFileSync(join(dir, f), "utf8").split("\n")) {
      if (!line.includes(traceId)) continue;
      try {
        const r = JSON.parse(line) as SpanLine & { msg?: string };
        if (r.msg === "span" && r.traceId === traceId) spans.push(r);
      } catch {
        // not a JSON line
      }
    }
  }
  return spans.sort((a, b) => a.time.localeCompare(b.time));
}

export function printTrace(
  traceId: string,
  what: string,
  say: (msg: string) => void,
  dir = process.env.DEMO_LOG_DIR ?? ".data/logs",
): void {
  const spans = readSpans(dir, traceId);
  if (spans.length === 0) {
    say(
      `trace ${traceId} (${what}): no spans in ${dir} (start the services with TRACING=stdout and logs there, as npm start does)`,
    );
    return;
  }
  say(`trace ${traceId} (${what}), ${spans.length} spans from ${dir}/*.log:`);
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string, SpanLine[]>();
  for (const s of spans) {
    const parent = s.parentSpanId !== undefined && ids.has(s.parentSpanId) ? s.parentSpanId : "";
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const walk = (parent: string, depth: number) => {
    for (const s of children.get(parent) ?? []) {
      say(`  ${"  ".repeat(depth)}${s.service.padEnd(9)} ${s.name}  ${s.durationMs.toFixed(1)} ms`);
      walk(s.spanId, depth + 1);
    }
  };
  walk("", 0);
  say(`  (grep ${traceId} ${dir}/*.log shows every line of it)`);
}
