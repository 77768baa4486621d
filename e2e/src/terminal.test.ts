import { tmpdir } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { Terminal } from "./terminal.js";

let open: Terminal[] = [];
afterEach(async () => {
  await Promise.all(open.map((t) => t.close()));
  open = [];
});
const terminal = () => {
  const t = new Terminal({ cwd: tmpdir(), env: { PATH: process.env.PATH ?? "/usr/bin:/bin" } });
  open.push(t);
  return t;
};

describe("a test's terminal", () => {
  it("keeps variables from one block to the next and runs on after a failed command", async () => {
    const t = terminal();
    expect(await t.run("X=kept\nfalse\necho after", 5000)).toBe("after\n");
    expect(await t.run('echo "$X"', 5000)).toBe("kept\n");
  });

  it("shows stderr among stdout in the order written", async () => {
    const t = terminal();
    expect(await t.run("echo one\necho two >&2\necho three", 5000)).toBe("one\ntwo\nthree\n");
  });

  it("gives commands no stdin, so one that reads it cannot swallow the next", async () => {
    const t = terminal();
    expect(await t.run("cat\necho still here", 5000)).toBe("still here\n");
  });

  it("waits for what a never-ending block prints, and close ends it with its children", async () => {
    const t = terminal();
    t.paste("echo watching\ntail -f /dev/null");
    expect(await t.waitFor((text) => text.includes("watching"), 5000, "the watch")).toBe("watching\n");
    await t.close();
    await expect(t.waitFor(() => false, 5000, "nothing")).rejects.toThrow(/bash exited while waiting for nothing/);
  });
});
