import { spawn, type ChildProcess } from "node:child_process";
import { Connection } from "@temporalio/client";
import { freePort } from "./ports.js";
import { toolBinary } from "./tools.js";

/** The Temporal CLI built by deploy/local/infra.sh (go install), or one on PATH. */
export function temporalBinary(): string {
  return toolBinary("temporal");
}

/**
 * The arguments of `temporal server start-dev` for our tests and runs: headless on 127.0.0.1 at
 * the given ports, quiet, with the search attributes the clocks set (BrandId, CampaignId); in
 * memory unless `dbFile` keeps its state (a server restarted across faults), with the UI only
 * where `uiPort` is given.
 */
export function devServerArgs(
  ports: { port: number; httpPort: number; metricsPort: number; uiPort?: number },
  dbFile?: string,
): string[] {
  return [
    "server",
    "start-dev",
    "--headless",
    "--ip",
    "127.0.0.1",
    "--port",
    String(ports.port),
    "--http-port",
    String(ports.httpPort),
    "--metrics-port",
    String(ports.metricsPort),
    ...(ports.uiPort === undefined ? [] : ["--ui-port", String(ports.uiPort)]),
    ...(dbFile === undefined ? [] : ["--db-filename", dbFile]),
    "--log-level",
    "error",
    "--search-attribute",
    "BrandId=Keyword",
    "--search-attribute",
    "CampaignId=Keyword",
  ];
}

export interface DevServer {
  address: string;
  stop(): Promise<void>;
}

/**
 * A Temporal dev server of this test alone (in memory, headless, free ports), with the
 * search attributes BrandId and CampaignId, started from the built CLI. A server that exits while
 * starting (a free port taken by a parallel test between our probe and its bind) is started again
 * on new ports, up to three times; one that does not answer within 60 s fails the test.
 */
export async function startDevServer(): Promise<DevServer> {
  for (let attempt = 1; ; attempt++) {
    const started = await startOnce();
    if ("server" in started) return started.server;
    if (attempt >= 3 || !started.exited) throw new Error(`temporal dev server did not start: ${started.error}`);
  }
}

async function startOnce(): Promise<{ server: DevServer } | { error: string; exited: boolean }> {
  const [port, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(temporalBinary(), devServerArgs({ port, httpPort, metricsPort }), {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const address = `127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      const c = await Connection.connect({ address, connectTimeout: 1000 });
      await c.workflowService.getSystemInfo({});
      await c.close();
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) {
        const exited = child.exitCode !== null;
        child.kill("SIGKILL");
        return { error: `${(err as Error).message}${exited ? ` (exited with ${child.exitCode})` : ""}`, exited };
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const server: DevServer = {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
  return { server };
}
