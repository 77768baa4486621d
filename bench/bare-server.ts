/**
 * The RPC ceiling of this machine: a bare connect-node server on HTTP/2 (h2c) answering
 * grpc.health.v1.Health/Check with SERVING, nothing else per call: no auth, no interceptors, no
 * validation, no logging, no database. RecordSpend is compared with it in the same run: whatever
 * RecordSpend does beyond it is our cost.
 *
 * Server reflection is served too (ghz reads the schema through it once per run).
 *
 *   node bench/bare-server.ts <port>      (prints "listening" when ready)
 */
import http2 from "node:http2";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { ReflectionIndex, reflectionRoutes } from "@adbudget/kit";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@adbudget/proto/grpc/health/v1/health_pb.js";

const port = Number(process.argv[2]);
const handler = connectNodeAdapter({
  routes(router) {
    router.service(Health, {
      check: () => ({ status: Status.SERVING }),
    });
    const index = new ReflectionIndex([Health]);
    reflectionRoutes(router, () => index);
  },
});
const server = http2.createServer(handler);
server.listen(port, "127.0.0.1", () => console.log(`bare server listening on :${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
