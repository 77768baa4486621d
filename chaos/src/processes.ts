import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";

/** One life of a Restartable process. */
export interface Life {
  pid: number | undefined;
  /** Wall-clock ms. */
  startedAt: number;
  exit: { at: number; code: number | null; signal: NodeJS.Signals | null } | undefined;
}

/**
 * A process the chaos suite starts, kills (SIGKILL: no cleanup, no flush, as a crash or an OOM
 * kill) or stops, and starts again with the same command and environment. Output goes to a log
 * file (appended across restarts) and the last lines are kept for failure messages.
 */
export class Restartable {
  private child: ChildProcess | undefined;
  private readonly tail: string[] = [];
  private readonly log: WriteStream | undefined;
  /** How many times it was started. */
  starts = 0;
  /**
   * Every life of the process, oldest first: its pid, when it started and how it ended (signal
   * or exit code; undefined while it runs). The fault verdicts read a kill's effect from here.
   */
  readonly lives: Life[] = [];

  readonly name: string;
  private readonly command: string;
  private readonly args: string[];
  private readonly env: Record<string, string>;

  constructor(name: string, command: string, args: string[], env: Record<string, string>, logFile?: string) {
    this.name = name;
    this.command = command;
    this.args = args;
    this.env = env;
    this.log = logFile === undefined ? undefined : createWriteStream(logFile, { flags: "a" });
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): void {
    if (this.running) return;
    this.starts++;
    this.log?.write(`\n--- ${this.name} start ${this.starts} at ${new Date().toISOString()}\n`);
    const child = spawn(this.command, this.args, { env: { ...process.env, ...this.env }, stdio: ["ignore", "pipe", "pipe"] });
    const life: Life = { pid: child.pid, startedAt: Date.now(), exit: undefined };
    this.lives.push(life);
    child.once("exit", (code, signal) => {
      life.exit = { at: Date.now(), code, signal };
    });
    const take = (chunk: Buffer) => {
      this.log?.write(chunk);
      for (const line of chunk.toString().split("\n")) if (line !== "") this.tail.push(line);
      if (this.tail.length > 200) this.tail.splice(0, this.tail.length - 200);
    };
    child.stdout!.on("data", take);
    child.stderr!.on("data", take);
    this.child = child;
  }

  /** SIGKILL: the process dies at once, holding whatever it held. */
  kill(): Promise<void> {
    return this.signal("SIGKILL");
  }

  /**
   * SIGSTOP: the process stays alive, holding its sockets and whatever it was delivered, but runs
   * nothing until it is killed (a long GC pause, a frozen VM). The crossing fault freezes the
   * campaign replicas so that the event they are delivered is held for certain when they die.
   */
  freeze(): void {
    if (this.running) this.child?.kill("SIGSTOP");
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 10_000): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
    await this.signal("SIGTERM");
    clearTimeout(timer);
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
    return `--- ${this.name} (${this.running ? "running" : `exited ${this.child?.exitCode ?? this.child?.signalCode}`})\n${this.tail.slice(-n).join("\n")}`;
  }

  close(): void {
    this.log?.end();
  }
}
