/**
 * `npm start`'s services (run by scripts/start.sh): the three built services and the clocks
 * worker as processes, through the process launcher of @adbudget/testing, configured as a
 * developer machine runs them: by this process's environment (what start.sh exported: keys,
 * TRACING) over the topology's defaults (ports 50051-50053, databases, streams, NATS, Temporal).
 * Each process's output goes to `<log dir>/<name>.log`. The services start first; once every one
 * answers health SERVING (60 s at most), the worker; then the ready file is written.
 *
 *   node scripts/start-services.ts --log-dir .data/logs --ready-file <path> [--topology production]
 *
 * `--topology production` (TOPOLOGY=production npm start, on deploy/local/production.sh's
 * engines): two replicas of each service behind a balancer on the service's port (as a
 * Kubernetes Service balances connections), mutual TLS between every caller and service (the
 * development CA's certificates, TLS_DIR), each workload its own NATS user over TLS and, with
 * `--workload-keys <dir>`, its own signing key (`<dir>/<workload>.json`).
 *
 * SIGTERM or SIGINT stops every process gracefully and exits 0. A process that exits by itself
 * stops the others and exits 1 (start.sh then prints the logs' last lines). A start that fails
 * prints what failed with the last lines of each process and exits 1.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { SERVICE_NAMES, SERVICES, WORKER, type ServiceName, type Workload } from "@adbudget/topology";
import { Balancer } from "@adbudget/testing/balancer";
import {
  calleeSettings,
  launchWorkloads,
  type LaunchedWorkloads,
  type WorkloadSpecs,
} from "@adbudget/testing/launcher-processes";

const { values } = parseArgs({
  options: {
    "log-dir": { type: "string", default: ".data/logs" },
    "ready-file": { type: "string" },
    topology: { type: "string", default: "development" },
    "workload-keys": { type: "string" },
  },
});
const log = (line: string) => process.stderr.write(`\n==> ${line}\n`);

let launched: LaunchedWorkloads | undefined;
/** The exit code once a stop was asked for (a signal while starting: honoured once started). */
let stopping: number | undefined;
const stop = async (code: number) => {
  if (stopping !== undefined) return;
  stopping = code;
  if (launched === undefined) return;
  await launched.stop();
  await Promise.all(balancers.map((b) => b.close()));
  process.exit(code);
};
process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));

const production = values.topology === "production";
const publicPort = (service: ServiceName) =>
  Number(process.env[`${SERVICES[service].envPrefix}_PORT`] ?? SERVICES[service].port);
/** Replicas per service in the production topology: two, so that one can die. */
const REPLICAS = 2;
const balancers: Balancer[] = [];

/**
 * The development topology: one plain-text replica of each service on its port, on loopback (a
 * service refuses plaintext beyond it; `<PREFIX>_HOST` still wins, and a shell's own HOST, which
 * zsh sets to the machine's name, does not leak in).
 */
function developmentSpecs(): WorkloadSpecs {
  return {
    services: SERVICE_NAMES.map((service) => ({
      service,
      index: 0,
      name: service,
      url: `http://127.0.0.1:${publicPort(service)}`,
      env: { HOST: "127.0.0.1" },
    })),
    worker: { env: {} },
  };
}

/**
 * The production topology: replica i of a service on its port + 100 (i + 1) (metrics + 10 (i + 1)),
 * its callers reaching it through the balancer on its port over mutual TLS.
 */
function productionSpecs(): WorkloadSpecs {
  const tls = process.env.TLS_DIR ?? ".data/tls";
  const urls = Object.fromEntries(SERVICE_NAMES.map((s) => [s, `https://127.0.0.1:${publicPort(s)}`]));
  const identity = (workload: Workload): Record<string, string> => ({
    TLS_CA_FILE: join(tls, "ca.pem"),
    TLS_CERT_FILE: join(tls, `${workload}.pem`),
    TLS_KEY_FILE: join(tls, `${workload}-key.pem`),
    // Its own signing key (registered for its role alone), when the key set has one per workload.
    ...(values["workload-keys"] ? { AUTH_PRIVATE_KEY_FILE: join(values["workload-keys"], `${workload}.json`) } : {}),
    NATS_USER: workload,
    NATS_PASSWORD: process.env[`NATS_${workload.toUpperCase()}_PASSWORD`] ?? "",
    ...calleeSettings(workload, urls),
  });
  return {
    services: SERVICE_NAMES.flatMap((service) =>
      Array.from({ length: REPLICAS }, (_, i) => {
        const p = SERVICES[service].envPrefix;
        const port = publicPort(service) + 100 * (i + 1);
        return {
          service,
          index: i,
          name: `${service}-${i}`,
          url: `https://127.0.0.1:${port}`,
          env: {
            ...identity(service),
            // This machine's run: the replicas on loopback, reached through the balancers.
            HOST: "127.0.0.1",
            TLS_CLIENT_AUTH: "require",
            [`${p}_PORT`]: String(port),
            [`${p}_METRICS_PORT`]: String(SERVICES[service].metricsPort + 10 * (i + 1)),
          },
        };
      }),
    ),
    worker: { env: identity(WORKER.name) },
  };
}

try {
  if (production)
    for (const service of SERVICE_NAMES)
      balancers.push(
        await Balancer.start(
          Array.from({ length: REPLICAS }, (_, i) => publicPort(service) + 100 * (i + 1)),
          publicPort(service),
        ),
      );
  const tlsDir = process.env.TLS_DIR ?? ".data/tls";
  launched = await launchWorkloads(production ? productionSpecs() : developmentSpecs(), {
    logDir: values["log-dir"],
    // The health checks call the replicas as an operator would: over mutual TLS.
    clientTls: production
      ? {
          ca: readFileSync(join(tlsDir, "ca.pem"), "utf8"),
          cert: readFileSync(join(tlsDir, "operator.pem"), "utf8"),
          key: readFileSync(join(tlsDir, "operator-key.pem"), "utf8"),
        }
      : undefined,
    waitForWorker: false,
    onStart: ({ name, workload, url, logFile }) =>
      log(
        workload === "clocks"
          ? `starting the clocks worker (Temporal task queue ${process.env.TEMPORAL_TASK_QUEUE ?? "adbudget"})`
          : `starting ${name} on :${new URL(url ?? "").port} (log: ${logFile})`,
      ),
  });
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
if (stopping !== undefined) {
  await launched.stop();
  process.exit(stopping);
}
if (values["ready-file"]) writeFileSync(values["ready-file"], "ready\n");
// A process that exits by itself (not stopped by us) takes the others down.
await Promise.race(launched.processes.map((p) => p.exited()));
await stop(1);
