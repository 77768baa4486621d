import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import type { Writable } from "node:stream";

/**
 * A shell as a person has it in a terminal: one long-lived bash whose variables persist from one
 * pasted block to the next, commands run one after another, a failed command does not stop the
 * next (no `set -e`), and stdout and stderr arrive interleaved, in the order written.
 *
 * bash reads its commands from its stdin; each pasted block runs as `{ ...; } </dev/null`, so a
 * command that reads stdin gets nothing rather than swallowing the commands after it, while the
 * variables it sets stay (a brace group is no subshell). bash runs in a process group of its
 * own, so `close()` ends whatever it started (a watch that streams until Ctrl-C) and nothing else.
 */
export class Terminal {
  private readonly child: ChildProcess;
  private readonly script: Writable;
  private output = "";
  private readonly listeners = new Set<() => void>();

  constructor(options: { cwd: string; env: NodeJS.ProcessEnv }) {
    this.child = spawn("bash", ["--noprofile", "--norc", "-s"], {
      cwd: options.cwd,
      env: options.env,
      stdio: ["pipe", "pipe", "pipe"],
      detached: true,
    });
    if (this.child.stdin === null) throw new Error("bash has no stdin pipe");
    this.script = this.child.stdin;
    // One stream, in order: what a terminal shows.
    this.script.write("exec 2>&1\n");
    const collect = (chunk: string) => {
      this.output += chunk;
      for (const notify of this.listeners) notify();
    };
    this.child.stdout?.setEncoding("utf8").on("data", collect);
    this.child.stderr?.setEncoding("utf8").on("data", collect);
    this.child.on("exit", () => {
      for (const notify of this.listeners) notify();
    });
  }

  /** Everything printed so far. */
  get printed(): string {
    return this.output;
  }

  /** Pastes `commands` and returns at once (a block that never ends, such as a watch). */
  paste(commands: string): void {
    this.script.write(`{\n${commands}\n} </dev/null\n`);
  }

  /** Pastes `commands` and resolves with what they printed, once the last one has finished. */
  async run(commands: string, timeoutMs: number): Promise<string> {
    const marker = `--- block done ${randomUUID()} ---`;
    const from = this.output.length;
    this.paste(`${commands}\necho '${marker}'`);
    await this.waitFor((text) => text.includes(marker), timeoutMs, "the block to finish", from);
    return this.output.slice(from, this.output.indexOf(marker, from));
  }

  /**
   * Resolves once the output printed since `from` satisfies `done`: woken by each chunk that
   * arrives, so no polling interval decides how late it notices. Fails after `timeoutMs`, or at
   * once if bash has exited, with the output so far.
   */
  async waitFor(done: (text: string) => boolean, timeoutMs: number, what: string, from = 0): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const check = () => {
        const text = this.output.slice(from);
        if (done(text)) finish(() => resolve(text));
        else if (this.child.exitCode !== null || this.child.signalCode !== null) {
          finish(() => reject(new Error(`bash exited while waiting for ${what}:\n${text}`)));
        }
      };
      const timer = setTimeout(
        () =>
          finish(() =>
            reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${this.output.slice(from)}`)),
          ),
        timeoutMs,
      );
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.listeners.delete(check);
        settle();
      };
      this.listeners.add(check);
      check();
    });
  }

  /** Ends bash and everything it started (its process group), as closing the terminal would. */
  async close(): Promise<void> {
    const { pid } = this.child;
    if (pid === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    try {
      process.kill(-pid, "SIGTERM");
    } catch {
      return; // already gone
    }
    await exited;
  }
}
