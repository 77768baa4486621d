import type { Verdict } from "./invariants.ts";
import type { LaunchedProcess } from "@adbudget/testing";

/**
 * What one SIGKILL did, as observed from outside the process: the figures `killVerdict` judges.
 * A kill that did nothing (the process was not running, or survived) would leave the run's
 * other verdicts passing for a fault that never happened; these figures say whether it did.
 */
export interface KillRecord {
  what: string;
  /** The pid the kill was aimed at (undefined: nothing was running). */
  pidBefore: number | undefined;
  /** How that life ended: "SIGKILL", "exit 0", ... (undefined: it did not end). */
  endedBy: string | undefined;
  /** The OS knew no process of that pid after the kill (kill(pid, 0) answered ESRCH). */
  gone: boolean;
  /** The pid of the life started after it (undefined: not started again). */
  pidAfter: number | undefined;
  /** The new life proved it works (health SERVING, its port open, polling its task queue). */
  back: boolean;
}

/** Whether a pid names a live process (signal 0 checks without sending anything). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err instanceof Error && "code" in err && err.code === "EPERM";
  }
}

/** SIGKILLs `p` and records the life it ended; `restarted` completes the record. */
export async function killProcess(p: LaunchedProcess, what: string): Promise<KillRecord> {
  const life = p.running ? p.lives.at(-1) : undefined;
  await p.kill();
  const exit = life?.exit;
  return {
    what,
    pidBefore: life?.pid,
    endedBy: exit === undefined ? undefined : (exit.signal ?? `exit ${exit.code}`),
    gone: life?.pid !== undefined && !pidAlive(life.pid),
    pidAfter: undefined,
    back: false,
  };
}

/** Starts `p` again and waits for `ready` (which throws or answers false when it is not). */
export async function restartProcess(
  p: LaunchedProcess,
  record: KillRecord,
  ready: () => Promise<boolean | void>,
): Promise<void> {
  p.start();
  record.pidAfter = p.running ? p.pid : undefined;
  record.back =
    (await ready().then(
      (r) => r !== false,
      () => false,
    )) &&
    p.running &&
    p.pid === record.pidAfter;
}

/**
 * Each SIGKILL took effect: the process it was aimed at ran, died of SIGKILL, is gone from the
 * OS, and a new process (a new pid) came back and works. Without this the run could "survive" a
 * crash that never happened.
 */
export function killVerdict(records: KillRecord[]): Verdict {
  const problems: string[] = [];
  if (records.length === 0) problems.push("no process was killed");
  for (const r of records) {
    if (r.pidBefore === undefined) {
      problems.push(`${r.what}: nothing was running to kill (the fault did not take effect)`);
      continue;
    }
    if (r.endedBy !== "SIGKILL")
      problems.push(
        `${r.what}: pid ${r.pidBefore} ended by ${r.endedBy ?? "nothing"}, not SIGKILL (the fault did not take effect)`,
      );
    if (!r.gone) problems.push(`${r.what}: pid ${r.pidBefore} still alive after the kill`);
    if (r.pidAfter === undefined || r.pidAfter === r.pidBefore)
      problems.push(`${r.what}: not started again with a new pid (${r.pidBefore} -> ${r.pidAfter})`);
    else if (!r.back) problems.push(`${r.what}: pid ${r.pidAfter} did not come back to work`);
  }
  return {
    name: "each SIGKILL took effect: the process died, was gone, and came back with a new pid",
    ok: problems.length === 0,
    figures: `${records.length} kills: ${records.map((r) => `${r.what} ${r.pidBefore ?? "-"} -> ${r.pidAfter ?? "-"}`).join(", ")}`,
    problems,
  };
}
