import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { GroupCommit } from "./group-commit.js";
import { createLogger } from "./logger.js";

const logger = createLogger("test", "silent");

/** A driver error with a SQLSTATE, as pg throws it. */
function pgError(code: string): Error {
  return Object.assign(new Error(`sqlstate ${code}`), { code });
}

/** A GroupCommit over `flush`, recording every batch it was given. */
function committer(
  flush: (items: number[]) => Promise<(string | Error)[]>,
  options: { concurrency?: number; maxBatch?: number } = {},
) {
  const batches: number[][] = [];
  const commits = new GroupCommit<number, string>({
    name: "test batch",
    logger,
    maxBatch: options.maxBatch ?? 100,
    concurrency: options.concurrency,
    parallelBacklog: 4,
    flush: async (items) => {
      batches.push([...items]);
      return flush(items);
    },
    refused: (err, item) => new Error(`refused ${item}: ${err instanceof Error ? err.message : String(err)}`),
  });
  return { commits, batches };
}

const echo = async (items: number[]) => items.map((i) => `ok ${i}`);

describe("GroupCommit", () => {
  it("puts every call of one tick into one batch and answers each in order", async () => {
    const { commits, batches } = committer(echo);
    const answers = await Promise.all([commits.submit(1), commits.submitAll([2, 3]), commits.submit(4)]);
    expect(answers).toEqual(["ok 1", ["ok 2", "ok 3"], "ok 4"]);
    expect(batches).toEqual([[1, 2, 3, 4]]);
  });

  it("answers an item's own error to that item alone", async () => {
    const { commits } = committer(async (items) => items.map((i) => (i === 2 ? new Error("two") : `ok ${i}`)));
    expect(await commits.submitAll([1, 2, 3])).toEqual(["ok 1", new Error("two"), "ok 3"]);
    await expect(commits.submit(2)).rejects.toThrow("two");
  });

  it("retries the whole batch on a deadlock or serialization failure", async () => {
    let calls = 0;
    const { commits, batches } = committer(async (items) => {
      calls++;
      if (calls === 1) throw pgError("40P01");
      if (calls === 2) throw pgError("40001");
      return echo(items);
    });
    expect(await commits.submitAll([1, 2])).toEqual(["ok 1", "ok 2"]);
    expect(batches).toEqual([
      [1, 2],
      [1, 2],
      [1, 2],
    ]);
  });

  it("gives up on conflicts after five attempts", async () => {
    const { commits, batches } = committer(async () => {
      throw pgError("40P01");
    });
    await expect(commits.submit(1)).rejects.toThrow("sqlstate 40P01");
    expect(batches).toHaveLength(5);
  });

  it("splits a batch the database refuses until the bad item fails alone", async () => {
    const { commits } = committer(async (items) => {
      if (items.includes(5)) throw pgError("22003");
      return echo(items);
    });
    const answers = await commits.submitAll([1, 2, 3, 4, 5, 6, 7]);
    expect(answers.map(String)).toEqual([
      "ok 1",
      "ok 2",
      "ok 3",
      "ok 4",
      "Error: refused 5: sqlstate 22003",
      "ok 6",
      "ok 7",
    ]);
  });

  it("fails the whole batch on any other error", async () => {
    const { commits } = committer(async () => {
      throw new Error("boom");
    });
    expect((await commits.submitAll([1, 2])).map(String)).toEqual(["Error: boom", "Error: boom"]);
  });

  it("does not write an item whose call's deadline passed before its batch formed", async () => {
    const { commits, batches } = committer(echo);
    const expired = new AbortController();
    expired.abort(new ConnectError("deadline", Code.DeadlineExceeded));
    const canceled = new AbortController();
    canceled.abort(new ConnectError("canceled", Code.Canceled));
    const [late, gone, live] = await Promise.allSettled([
      commits.submit(1, expired.signal),
      commits.submit(2, canceled.signal),
      commits.submit(3),
    ]);
    expect(late.status === "rejected" && late.reason instanceof ConnectError && late.reason.code).toBe(
      Code.DeadlineExceeded,
    );
    expect(gone).toEqual({ status: "fulfilled", value: "ok 2" });
    expect(live).toEqual({ status: "fulfilled", value: "ok 3" });
    expect(batches).toEqual([[2, 3]]);
  });

  it("opens a second transaction only for a backlog, and no more than its concurrency", async () => {
    let release: () => void = () => undefined;
    const held = new Promise<void>((r) => (release = r));
    let running = 0;
    let most = 0;
    const { commits, batches } = committer(
      async (items) => {
        running++;
        most = Math.max(most, running);
        await held;
        running--;
        return echo(items);
      },
      { concurrency: 2, maxBatch: 3 },
    );
    const first = commits.submit(1);
    await Promise.resolve();
    await Promise.resolve();
    // One transaction runs; a trickle waits for it rather than opening another.
    const trickle = commits.submit(2);
    await Promise.resolve();
    await Promise.resolve();
    expect(batches).toEqual([[1]]);
    // A backlog (4 or more queued) opens the second slot; never a third.
    const backlog = commits.submitAll([3, 4, 5, 6, 7, 8]);
    await Promise.resolve();
    await Promise.resolve();
    expect(batches).toEqual([[1], [2, 3, 4]]);
    release();
    expect(await Promise.all([first, trickle, backlog])).toEqual([
      "ok 1",
      "ok 2",
      ["ok 3", "ok 4", "ok 5", "ok 6", "ok 7", "ok 8"],
    ]);
    expect(most).toBe(2);
    expect(batches.flat().sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });
});
