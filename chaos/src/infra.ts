import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { Connection } from "@temporalio/client";
import { devServerArgs, freePort, LaunchedProcess, natsServerBinary, temporalBinary } from "@adbudget/testing";

/** Toxiproxy, pinned: `@latest` resolves to a 2022 release. */
export const TOXIPROXY_VERSION = "v2.12.0";

/**
 * The toxiproxy server, built once per machine into the user's cache (outside the checkout, like
 * the Go tools in $GOPATH/bin: a fresh clone does not build it again). Its own directory per
 * version, as `go install` names the binary `server`.
 */
export function toxiproxyBinary(): string {
  // XDG_CACHE_HOME counts only when absolute (the spec's rule): an empty or relative one would put
  // the cache under whatever directory the run started in.
  const xdg = process.env.XDG_CACHE_HOME ?? "";
  const cache = isAbsolute(xdg) ? xdg : join(homedir(), ".cache");
  const bin = join(cache, "adbudget", `toxiproxy-${TOXIPROXY_VERSION}`, "server");
  if (!existsSync(bin)) {
    // Built into a directory of this run's own, then renamed into place: a build killed halfway,
    // or two runs building at once, never leave a partial binary where the next run looks.
    mkdirSync(dirname(bin), { recursive: true });
    const building = mkdtempSync(join(dirname(bin), ".building-"));
    console.error(`building toxiproxy ${TOXIPROXY_VERSION} (go install, one time)`);
    execFileSync("go", ["install", `github.com/Shopify/toxiproxy/v2/cmd/server@${TOXIPROXY_VERSION}`], {
      stdio: "inherit",
      env: { ...process.env, GOBIN: building, GOTOOLCHAIN: "local" },
    });
    renameSync(join(building, "server"), bin);
    rmSync(building, { recursive: true, force: true });
  }
  return bin;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * PostgreSQL behind toxiproxy: the services reach the database through a proxy the suite can
 * disable (connections dropped, new ones refused) or slow down (a latency toxic), while the
 * shared server itself is never touched.
 */
export class DatabaseProxy {
  private readonly api: string;
  readonly port: number;
  private readonly server: LaunchedProcess;

  private constructor(api: string, port: number, server: LaunchedProcess) {
    this.api = api;
    this.port = port;
    this.server = server;
  }

  static async start(upstream: string, logDir: string): Promise<DatabaseProxy> {
    const apiPort = await freePort();
    const server = new LaunchedProcess("toxiproxy", toxiproxyBinary(), {
      args: ["-host", "127.0.0.1", "-port", String(apiPort)],
      log: { file: join(logDir, "toxiproxy.log"), append: true },
    });
    server.start();
    const api = `http://127.0.0.1:${apiPort}`;
    await until("toxiproxy", async () => (await fetch(`${api}/version`)).ok);
    // Port 0: toxiproxy binds a port the system gives it and answers it in `listen` (a port
    // chosen here beforehand could be taken by another test's server before toxiproxy binds it).
    const res = await fetch(`${api}/proxies`, {
      method: "POST",
      body: JSON.stringify({ name: "postgres", listen: "127.0.0.1:0", upstream, enabled: true }),
    });
    if (!res.ok) throw new Error(`toxiproxy: ${res.status} ${await res.text()}`);
    const created: unknown = await res.json();
    const listen = typeof created === "object" && created !== null && "listen" in created ? created.listen : undefined;
    const port = typeof listen === "string" ? Number(listen.slice(listen.lastIndexOf(":") + 1)) : NaN;
    if (!Number.isInteger(port) || port <= 0) throw new Error(`toxiproxy answered no port: ${JSON.stringify(created)}`);
    return new DatabaseProxy(api, port, server);
  }

  /** Unreachable: open connections drop, new ones are refused. */
  async cut(): Promise<void> {
    await this.post("/proxies/postgres", { enabled: false });
  }

  async restore(): Promise<void> {
    await this.post("/proxies/postgres", { enabled: true });
  }

  /** Every byte both ways waits `ms` more. */
  async slow(ms: number): Promise<void> {
    for (const stream of ["upstream", "downstream"]) {
      await this.post("/proxies/postgres/toxics", {
        name: `latency_${stream}`,
        type: "latency",
        stream,
        attributes: { latency: ms, jitter: 0 },
      });
    }
  }

  async unslow(): Promise<void> {
    for (const stream of ["upstream", "downstream"])
      await fetch(`${this.api}/proxies/postgres/toxics/latency_${stream}`, { method: "DELETE" });
  }

  async close(): Promise<void> {
    await this.server.kill();
    this.server.close();
  }

  private async post(path: string, body: unknown): Promise<void> {
    const res = await fetch(`${this.api}${path}`, { method: "POST", body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`toxiproxy ${path}: ${res.status} ${await res.text()}`);
  }
}

/** A NATS server of the suite alone, on a fixed port and storage directory: stopped and started again, JetStream keeps its streams. */
export async function natsServer(
  dir: string,
  logDir: string,
): Promise<{ url: string; process: LaunchedProcess; ready(): Promise<void> }> {
  const port = await freePort();
  const process = new LaunchedProcess("nats", natsServerBinary(), {
    args: ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", join(dir, "nats")],
    log: { file: join(logDir, "nats.log"), append: true },
  });
  const ready = () => until("nats", () => tcpOpen(port));
  return { url: `nats://127.0.0.1:${port}`, process, ready };
}

/** A Temporal dev server of the suite alone, persisted to a file (a restart keeps every workflow and timer). */
export async function temporalServer(
  dir: string,
  logDir: string,
): Promise<{ address: string; uiPort: number; process: LaunchedProcess; ready(): Promise<void> }> {
  const [port, httpPort, metricsPort, uiPort] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const process = new LaunchedProcess("temporal", temporalBinary(), {
    args: devServerArgs({ port, httpPort, metricsPort, uiPort }, join(dir, "temporal.db")),
    log: { file: join(logDir, "temporal.log"), append: true },
  });
  const address = `127.0.0.1:${port}`;
  const ready = () =>
    until(
      "temporal",
      async () => {
        const c = await Connection.connect({ address, connectTimeout: 1000 });
        try {
          await c.workflowService.getSystemInfo({});
          return true;
        } finally {
          await c.close();
        }
      },
      90_000,
    );
  return { address, uiPort, process, ready };
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    void import("node:net").then(({ connect }) => {
      const s = connect({ host: "127.0.0.1", port });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
  });
}
