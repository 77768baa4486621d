import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";
import { toolBinary } from "./tools.js";

/** The nats-server of the tests that need their own (the Debian package's, or one on PATH). */
export function natsServerBinary(): string {
  return existsSync("/usr/sbin/nats-server") ? "/usr/sbin/nats-server" : toolBinary("nats-server");
}

export interface NatsServerProcess {
  url: string;
  port: number;
  /** The HTTP monitoring endpoint (`/connz?auth=true` shows who each connection is), with `monitor`. */
  monitorUrl: string | undefined;
  /** What the server printed (its log: permission violations, auth errors). */
  output(): string;
  /** SIGKILLs it (a crash: no goodbye to its cluster); resolves with the signal it died of. */
  kill(): Promise<NodeJS.Signals | null>;
  stop(): Promise<void>;
}

/**
 * A nats-server of this test alone (JetStream on, storage in a temporary directory, a free port
 * on 127.0.0.1), with `config` (a nats-server configuration, such as an `authorization` block)
 * and `env` (for `$VARIABLE` references in it). Never the shared NATS of the other tests.
 * With `monitor`, its HTTP monitoring on another free port. `stop()` kills it and removes its
 * directory.
 */
export async function startNatsServer(
  options: { config?: string; env?: Record<string, string>; monitor?: boolean } = {},
): Promise<NatsServerProcess> {
  const dir = await mkdtemp(join(tmpdir(), "adbudget-nats-"));
  const port = await freePort();
  const args = ["-a", "127.0.0.1", "-p", String(port), "-js", "-sd", join(dir, "js")];
  if (options.config !== undefined) {
    await writeFile(join(dir, "nats.conf"), options.config, { mode: 0o600 });
    args.push("-c", join(dir, "nats.conf"));
  }
  const monitorPort = options.monitor ? await freePort() : undefined;
  if (monitorPort !== undefined) args.push("-m", String(monitorPort));
  let out = "";
  const child: ChildProcess = spawn(natsServerBinary(), args, {
    env: { ...process.env, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (out += b.toString()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5000).unref();
      });
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`nats-server did not start (exit ${child.exitCode}):\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const monitorUrl = monitorPort === undefined ? undefined : `http://127.0.0.1:${monitorPort}`;
  const kill = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await exited;
    }
    return child.signalCode;
  };
  return { url: `nats://127.0.0.1:${port}`, port, monitorUrl, output: () => out, kill, stop };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}
