import { spawn, type ChildProcess } from "node:child_process";
import { Connection } from "@temporalio/client";
import { freePort } from "./ports.js";
import { toolBinary } from "./tools.js";

/** The Temporal CLI built by deploy/local/infra.sh (go install), or one on PATH. */
export function temporalBinary(): string {
  return toolBinary("temporal");
}

export interface DevServer {
  address: string;
  stop(): Promise<void>;
}

/**
 * A Temporal dev server of this test alone (in memory, headless, free ports), with the
 * search attributes BrandId and CampaignId, started from the built CLI.
 */
export async function startDevServer(): Promise<DevServer> {
  const [port, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    temporalBinary(),
    ["server", "start-dev", "--headless", "--ip", "127.0.0.1", "--port", String(port), "--http-port", String(httpPort),
      "--metrics-port", String(metricsPort), "--log-level", "error",
      "--search-attribute", "BrandId=Keyword", "--search-attribute", "CampaignId=Keyword"],
    { stdio: ["ignore", "ignore", "inherit"] },
  );
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
        child.kill("SIGKILL");
        throw new Error(`temporal dev server did not start: ${(err as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  return {
    address,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      }),
  };
}
