import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";

/** One life of a LaunchedProcess: its pid, when it started and how it ended. */
export interface Life {
  pid: number | undefined;
  /** Wall-clock ms. */
  startedAt: number;
  exit: { at: number; code: number | null; signal: NodeJS.Signals | null } | undefined;
}

export interface LaunchedProcessOptions {
  /** Arguments of the command (for node: the script and its arguments, after `execArgv`). */
  args?: string[];
  /** Node's own flags before the script (`--cpu-prof`, ...). */
  execArgv?: string[];
  /** Over this process's environment. */
  env?: Record<string, string>;
  /**
   * Where its output (stdout and stderr) also goes. `append` keeps the file across runs and
   * writes a `--- <name> start <n> at <time>` line before each life (the chaos suite's restarts);
   * without it the file starts empty, as `npm start`'s logs do.
   */
  log?: { file: string; append?: boolean };
  /** Keep every stdout line (for `records()`: JSON log lines, spans); otherwise only the last 200 lines. */
  keepStdout?: boolean;
  /** Copy its stderr to this process's stderr as it comes (the benches show a service's errors). */
  echoStderr?: boolean;
}

/**
 * A process a launcher starts: stopped gracefully (SIGTERM, then SIGKILL after a grace), killed
 * (SIGKILL: no cleanup, no flush, as a crash or an OOM kill), frozen (SIGSTOP), and started
 * again with the same command and environment. Every life is recorded (pid, start, how it
 * ended), the last lines are kept for failure messages, and the output can go to a log file.
 */
export class LaunchedProcess {
  private child: ChildProcess | undefined;
  private readonly tail: string[] = [];
  private readonly logStream: WriteStream | undefined;
  /** Every stdout line of every life, with `keepStdout`. */
  readonly stdout: string[] = [];
  /** How many times it was started. */
  starts = 0;
  /** Every life of the process, oldest first; the chaos suite reads a kill's effect from here. */
  readonly lives: Life[] = [];

  readonly name: string;
  readonly command: string;
  private readonly options: LaunchedProcessOptions;

  constructor(name: string, command: string, options: LaunchedProcessOptions = {}) {
    this.name = name;
    this.command = command;
    this.options = options;
    this.logStream =
      options.log === undefined
        ? undefined
        : createWriteStream(options.log.file, { flags: options.log.append ? "a" : "w" });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** How the last life ended (undefined while it runs or before it started). */
  get exit(): Life["exit"] {
    return this.lives.at(-1)?.exit;
  }

  start(): void {
    if (this.running) return;
    this.starts++;
    if (this.options.log?.append)
      this.logStream?.write(`\n--- ${this.name} start ${this.starts} at ${new Date().toISOString()}\n`);
    const o = this.options;
    const child = spawn(this.command, [...(o.execArgv ?? []), ...(o.args ?? [])], {
      env: { ...process.env, ...o.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const life: Life = { pid: child.pid, startedAt: Date.now(), exit: undefined };
    this.lives.push(life);
    child.once("exit", (code, signal) => {
      life.exit = { at: Date.now(), code, signal };
    });
    const take = (into: string[] | undefined, echo: boolean) => {
      let rest = "";
      return (chunk: string) => {
        this.logStream?.write(chunk);
        if (echo) process.stderr.write(chunk);
        const lines = (rest + chunk).split("\n");
        rest = lines.pop()!;
        for (const line of lines) {
          if (line === "") continue;
          this.tail.push(line);
          into?.push(line);
        }
        if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
      };
    };
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", take(o.keepStdout ? this.stdout : undefined, false));
    child.stderr.on("data", take(undefined, o.echoStderr === true));
    this.child = child;
  }

  /** Parsed JSON lines (pino logs and, with TRACING=stdout, spans): all of stdout with `keepStdout`, else the last lines. */
  records(): Record<string, unknown>[] {
    return (this.options.keepStdout ? this.stdout : this.tail).flatMap((l) => {
      try {
        return [JSON.parse(l) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  /** SIGKILL: the process dies at once, holding whatever it held. */
  kill(): Promise<void> {
    return this.signal("SIGKILL");
  }

  /**
   * SIGSTOP: the process stays alive, holding its sockets and whatever it was delivered, but runs
   * nothing until it is killed (a long GC pause, a frozen VM).
   */
  freeze(): void {
    if (this.running) this.child?.kill("SIGSTOP");
  }

  /** SIGTERM, then SIGKILL after `graceMs`; a frozen process is thawed first, so it can stop gracefully. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    child.kill("SIGCONT");
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.signal("SIGTERM");
    clearTimeout(timer);
  }

  /** Resolves when the current life ends (at once if it is not running). */
  exited(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return Promise.resolve();
    return new Promise((resolve) => child.once("exit", () => resolve()));
  }

  private signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill(signal);
    });
  }

  lastLines(n = 20): string {
    const state = this.running ? "running" : `exited ${this.child?.exitCode ?? this.child?.signalCode}`;
    return `--- ${this.name} (${state})\n${this.tail.slice(-n).join("\n")}`;
  }

  /** Ends the log file (after the last life). */
  close(): void {
    this.logStream?.end();
  }
}
