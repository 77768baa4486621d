#!/usr/bin/env node
/**
 * Waits until each given server answers grpc.health.v1 Check with SERVING.
 *   node scripts/wait-healthy.mjs NAME=http://127.0.0.1:50051 ... [--timeout 60]
 * Exits 1 naming the servers that never became healthy.
 */
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@adbudget/proto/grpc/health/v1/health_pb.js";

const args = process.argv.slice(2);
const t = args.indexOf("--timeout");
const timeoutMs = (t >= 0 ? Number(args.splice(t, 2)[1]) : 60) * 1000;
const targets = args.map((a) => a.split("=", 2));
const deadline = Date.now() + timeoutMs;

const pending = new Map(targets);
while (pending.size > 0 && Date.now() < deadline) {
  for (const [name, url] of pending) {
    const client = createClient(Health, createGrpcTransport({ baseUrl: url }));
    try {
      const { status } = await client.check({ service: "" }, { timeoutMs: 1000 });
      if (status === Status.SERVING) pending.delete(name);
    } catch {
      // not up yet
    }
  }
  if (pending.size > 0) await new Promise((r) => setTimeout(r, 250));
}
if (pending.size > 0) {
  console.error(`not healthy after ${timeoutMs / 1000}s: ${[...pending.keys()].join(", ")}`);
  process.exit(1);
}
