import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { Logger } from "./logger.js";

/**
 * Prometheus metrics of one process: RPC counts and latencies (every service, through an
 * interceptor), process metrics, and whatever the service adds (events handled, outbox
 * pending, records by state). Served on their own port, so scraping never competes with
 * traffic on the gRPC port and can be firewalled separately.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly rpcTotal: Counter<"rpc" | "code">;
  private readonly rpcSeconds: Histogram<"rpc">;

  constructor(readonly service: string) {
    this.registry.setDefaultLabels({ service });
    collectDefaultMetrics({ register: this.registry });
    this.rpcTotal = new Counter({
      name: "adbudget_rpc_requests_total",
      help: "RPCs handled, by method and gRPC status code.",
      labelNames: ["rpc", "code"],
      registers: [this.registry],
    });
    this.rpcSeconds = new Histogram({
      name: "adbudget_rpc_duration_seconds",
      help: "RPC handling time (unary: until the response; streams: until the stream starts).",
      labelNames: ["rpc"],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
  }

  counter<L extends string>(name: string, help: string, labelNames: L[] = []): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.registry] });
  }

  /** A gauge read at scrape time (for example a count query). */
  gauge(name: string, help: string, read: () => Promise<number>): Gauge {
    return new Gauge({
      name,
      help,
      registers: [this.registry],
      async collect() {
        try {
          this.set(await read());
        } catch {
          // Leave the last value: a scrape must not fail because the database blinked.
        }
      },
    });
  }

  /** Counts a call answered before the interceptors ran (refused by the auth gate). */
  count(rpc: string, code: Code): void {
    this.rpcTotal.inc({ rpc, code: Code[code] ?? "Unknown" });
  }

  /** Outermost interceptor: counts every call with its final status code. */
  interceptor(): Interceptor {
    return (next) => async (req) => {
      const rpc = `${req.service.typeName}/${req.method.name}`;
      const end = this.rpcSeconds.startTimer({ rpc });
      try {
        const res = await next(req);
        this.rpcTotal.inc({ rpc, code: "OK" });
        return res;
      } catch (err) {
        this.rpcTotal.inc({ rpc, code: Code[ConnectError.from(err).code] ?? "Unknown" });
        throw err;
      } finally {
        end();
      }
    };
  }
}

/**
 * Serves GET /metrics on `port` (0 = a free one), and with `ready`, the probes of a server that
 * speaks TLS (the kubelet's gRPC probes cannot): GET /livez answers 200 while the process
 * answers at all, GET /readyz 200 while `ready()` (grpc.health.v1 SERVING), else 503. Plain HTTP
 * on the metrics port, which a NetworkPolicy opens to the scrapers and the kubelet alone.
 * Returns the bound port and a closer.
 */
export async function startMetricsServer(
  metrics: Metrics,
  host: string,
  port: number,
  logger: Logger,
  ready?: () => Promise<boolean>,
): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (ready !== undefined && req.url === "/livez") {
      res.writeHead(200).end("alive\n");
      return;
    }
    if (ready !== undefined && req.url === "/readyz") {
      ready().then(
        (ok) => res.writeHead(ok ? 200 : 503).end(ok ? "ready\n" : "not ready\n"),
        () => res.writeHead(503).end("not ready\n"),
      );
      return;
    }
    if (req.url !== "/metrics") {
      res.writeHead(404).end();
      return;
    }
    metrics.registry.metrics().then(
      (body) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(body),
      (err: unknown) => res.writeHead(500).end(String(err)),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  logger.info({ port: bound }, "metrics on /metrics");
  return {
    port: bound,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
