import {
  closeSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { parseSpoolLine, spoolLine, spoolRecord, type StampedEvent } from "./spend-event.js";

/** A new segment every this many events: a segment is deleted whole, once all of it is settled. */
const SEGMENT_EVENTS = 10_000;
const SEGMENT = /^segment-(\d+)\.jsonl$/;

/** An event read back from the spool at start: not known to be counted yet. */
export interface Recovered {
  event: StampedEvent;
  segment: number;
}

/**
 * The reporter's on-disk spool (docs/sdk.md): every accepted event is a line of the current
 * segment, written before `report` answers, so the events of an ad server killed with SIGKILL
 * are sent after its restart (the server counts each event id once, so the ones that had made it
 * come back as duplicates). A segment goes when each of its events is settled and a newer one
 * takes the writes. One process per directory: the lock file holds its pid.
 */
export class Spool {
  private current: number;
  private fd: number;
  private written = 0;
  private closed = false;
  /** Unsettled events per segment. */
  private readonly outstanding = new Map<number, number>();

  private constructor(
    private readonly dir: string,
    private readonly fsync: boolean,
    first: number,
    private readonly lock: string,
  ) {
    this.current = first;
    this.fd = openSync(this.segmentPath(first), "a");
    this.outstanding.set(first, 0);
  }

  /** Opens (creating) `dir`, takes its lock, and reads back every unsettled event. */
  static open(dir: string, options: { fsync?: boolean } = {}): { spool: Spool; recovered: Recovered[] } {
    mkdirSync(dir, { recursive: true });
    const lock = takeLock(dir);
    const segments = readdirSync(dir)
      .map((name) => SEGMENT.exec(name)?.[1])
      .filter((n): n is string => n !== undefined)
      .map(Number)
      .sort((a, b) => a - b);
    const recovered: Recovered[] = [];
    const counts = new Map<number, number>();
    for (const segment of segments) {
      const text = readFileSync(join(dir, `segment-${segment}.jsonl`), "utf8");
      const lines = text.split("\n");
      // A fragment after the last newline is the write a crash cut short: its `report` never answered.
      const torn = lines.pop() ?? "";
      let n = 0;
      for (const line of lines) {
        if (line === "") continue;
        const event = parseSpoolLine(line);
        if (event !== undefined) {
          recovered.push({ event, segment });
          n++;
        } else {
          // A whole line that is not an event: a damaged file. Kept for a person, never dropped in silence.
          appendLine(join(dir, "rejected.jsonl"), { raw: line, code: "CorruptSpoolLine", segment });
        }
      }
      if (torn !== "") appendLine(join(dir, "torn.jsonl"), { raw: torn, segment });
      counts.set(segment, n);
    }
    const spool = new Spool(dir, options.fsync ?? false, (segments.at(-1) ?? 0) + 1, lock);
    for (const [segment, n] of counts) {
      spool.outstanding.set(segment, n);
      if (n === 0) spool.remove(segment);
    }
    return { spool, recovered };
  }

  /** Appends `event` durably (to the OS; to the disk with fsync) and answers its segment. */
  append(event: StampedEvent): number {
    if (this.written >= SEGMENT_EVENTS) this.rotate();
    const line = Buffer.from(spoolLine(event));
    const size = fstatSync(this.fd).size;
    try {
      if (writeSync(this.fd, line) !== line.length) throw new Error("short write to the spool");
      if (this.fsync) fsyncSync(this.fd);
    } catch (err) {
      // Not accepted: cut what may have been written, so the next line does not join a fragment.
      ftruncateSync(this.fd, size);
      throw err;
    }
    this.written++;
    this.outstanding.set(this.current, (this.outstanding.get(this.current) ?? 0) + 1);
    return this.current;
  }

  /**
   * An event of `segment` was acknowledged, rejected or dropped: it is no longer needed. After
   * `close` nothing is removed: the directory may be another reporter's by then.
   */
  settle(segment: number): void {
    if (this.closed) return;
    const left = (this.outstanding.get(segment) ?? 0) - 1;
    this.outstanding.set(segment, left);
    if (left <= 0 && segment !== this.current) this.remove(segment);
  }

  /** Keeps a rejected event, with why, for a person to look at (`rejected.jsonl`). */
  reject(event: StampedEvent, code: string, message: string): void {
    appendLine(join(this.dir, "rejected.jsonl"), { ...spoolRecord(event), code, message, rejectedAt: Date.now() });
  }

  /** Closes the files and frees the lock; unsettled events stay for the next start. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
    if ((this.outstanding.get(this.current) ?? 0) === 0) rmSync(this.segmentPath(this.current), { force: true });
    releaseLock(this.lock);
  }

  private rotate(): void {
    closeSync(this.fd);
    const old = this.current;
    this.current++;
    this.fd = openSync(this.segmentPath(this.current), "a");
    this.written = 0;
    this.outstanding.set(this.current, 0);
    if ((this.outstanding.get(old) ?? 0) <= 0) this.remove(old);
  }

  private remove(segment: number): void {
    rmSync(this.segmentPath(segment), { force: true });
    this.outstanding.delete(segment);
  }

  private segmentPath(segment: number): string {
    return join(this.dir, `segment-${segment}.jsonl`);
  }
}

function appendLine(path: string, value: object): void {
  const fd = openSync(path, "a");
  try {
    writeSync(fd, `${JSON.stringify(value)}\n`);
  } finally {
    closeSync(fd);
  }
}

/**
 * Lock files this process holds, by real path (so "./spool" and "/srv/spool" are one). The pid in
 * a lock file cannot tell this process from an earlier life of the same pid (an ad server in a
 * container is pid 1 in every life), so the process remembers its own.
 */
const held = new Set<string>();

/**
 * Takes `dir`'s lock file, or throws when a live process holds it; a dead holder's lock is taken
 * over. The pid is written to a file of our own first and linked into place, so the lock never
 * exists without its pid. Answers the lock's path.
 */
function takeLock(dir: string): string {
  const path = join(realpathSync(dir), "lock");
  if (held.has(path)) throw new Error(`spool ${path}: already open in this process; one reporter per spool directory`);
  const mine = `${path}.${process.pid}`;
  writeFileSync(mine, String(process.pid));
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(mine, path);
        held.add(path);
        return path;
      } catch (err) {
        if (!isErrno(err, "EEXIST")) throw err;
      }
      let holder: number;
      try {
        holder = Number(readFileSync(path, "utf8").trim());
      } catch (err) {
        if (isErrno(err, "ENOENT")) continue; // released between the two calls: try again
        throw err;
      }
      // Our own pid here is an earlier life's (the set above knows this life's locks).
      if (Number.isSafeInteger(holder) && holder > 0 && holder !== process.pid && alive(holder))
        throw new Error(`spool ${path}: held by live process ${holder}; one reporter per spool directory`);
      rmSync(path, { force: true });
    }
    throw new Error(`spool ${path}: could not take the lock`);
  } finally {
    rmSync(mine, { force: true });
  }
}

/** Frees the lock if it is still ours (a reporter that outlived its lock must not free another's). */
function releaseLock(path: string): void {
  held.delete(path);
  try {
    if (readFileSync(path, "utf8").trim() === String(process.pid)) rmSync(path, { force: true });
  } catch {
    // Gone already.
  }
}

function isErrno(err: unknown, code: string): boolean {
  return err instanceof Error && "code" in err && err.code === code;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return isErrno(err, "EPERM");
  }
}
