/**
 * `npm start`'s services (run by scripts/start.sh): the three built services and the clocks
 * worker as processes, through the process launcher of @adbudget/testing, configured as a
 * developer machine runs them: by this process's environment (what start.sh exported: keys,
 * TRACING) over the topology's defaults (ports 50051-50053, databases, streams, NATS, Temporal).
 * Each process's output goes to `<log dir>/<name>.log`. The services start first; once every one
 * answers health SERVING (60 s at most), the worker; then the ready file is written.
 *
 *   node scripts/start-services.ts --log-dir .data/logs --ready-file <path>
 *
 * SIGTERM or SIGINT stops every process gracefully and exits 0. A process that exits by itself
 * stops the others and exits 1 (start.sh then prints the logs' last lines). A start that fails
 * prints what failed with the last lines of each process and exits 1.
 */
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SERVICE_NAMES, SERVICES } from "@adbudget/topology";
import { launchWorkloads, type LaunchedWorkloads } from "@adbudget/testing/launcher-processes";

const { values } = parseArgs({
  options: { "log-dir": { type: "string", default: ".data/logs" }, "ready-file": { type: "string" } },
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
  process.exit(code);
};
process.on("SIGTERM", () => void stop(0));
process.on("SIGINT", () => void stop(0));

try {
  launched = await launchWorkloads(
    {
      services: SERVICE_NAMES.map((service) => {
        const port = process.env[`${SERVICES[service].envPrefix}_PORT`] ?? String(SERVICES[service].port);
        return { service, index: 0, name: service, url: `http://127.0.0.1:${port}`, env: {} };
      }),
      worker: { env: {} },
    },
    {
      logDir: values["log-dir"],
      waitForWorker: false,
      onStart: ({ name, workload, url, logFile }) =>
        log(
          workload === "clocks"
            ? `starting the clocks worker (Temporal task queue ${process.env.TEMPORAL_TASK_QUEUE ?? "adbudget"})`
            : `starting ${name} on :${new URL(url ?? "").port} (log: ${logFile})`,
        ),
    },
  );
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
