import type pg from "pg";

/**
 * Forcing interleavings of real transactions, without sleeps: a pool whose clients stop before a
 * chosen statement until the test lets them go (the statements before it done, their row locks
 * held), and a wait for a backend that is blocked on a lock (the other side of the interleaving
 * has reached the row and waits for it).
 */

/** A gate: `reached` resolves when a caller arrives at it; `release()` lets every caller through. */
export class Latch {
  readonly reached: Promise<void>;
  private arrive!: () => void;
  private readonly opened: Promise<void>;
  private open!: () => void;

  constructor() {
    this.reached = new Promise((resolve) => (this.arrive = resolve));
    this.opened = new Promise((resolve) => (this.open = resolve));
  }

  /** Called by the paused side: marks the arrival, then waits for `release()`. */
  async pass(): Promise<void> {
    this.arrive();
    await this.opened;
  }

  release(): void {
    this.open();
  }
}

function textOf(query: unknown): string {
  if (typeof query === "string") return query;
  if (query !== null && typeof query === "object" && "text" in query && typeof query.text === "string")
    return query.text;
  return "";
}

/**
 * `pool` with one difference: the first statement (of any of its clients) whose SQL `at`
 * matches waits at `latch` before it is sent. Production code given this pool runs unchanged up
 * to that statement, holding whatever its transaction locked so far.
 */
export function pausingPool(pool: pg.Pool, at: (sql: string) => boolean, latch: Latch): pg.Pool {
  let paused = false;
  const gate = async (query: unknown) => {
    if (paused || !at(textOf(query).trim().toLowerCase())) return;
    paused = true;
    await latch.pass();
  };
  const wrapClient = (client: pg.PoolClient): pg.PoolClient =>
    new Proxy(client, {
      get(target, prop, receiver) {
        if (prop !== "query") return Reflect.get(target, prop, receiver);
        return async (...args: unknown[]) => {
          await gate(args[0]);
          return Reflect.apply(target.query, target, args);
        };
      },
    });
  return new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop === "connect") return async () => wrapClient(await target.connect());
      if (prop === "query") {
        return async (...args: unknown[]) => {
          await gate(args[0]);
          return Reflect.apply(target.query, target, args);
        };
      }
      return Reflect.get(target, prop, receiver);
    },
  });
}

/**
 * Resolves once a backend of the database is waiting for a lock while running a statement that
 * contains `fragment` (pg_stat_activity, which keeps the first kilobyte of a statement: pick a
 * fragment from its start): the test's other transaction has met the row it holds.
 * Polls; throws after `timeoutMs` (a bound on a condition, not a sleep that hopes).
 */
export async function blockedOnLock(pool: pg.Pool, fragment: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query<{ n: string }>(
      `select count(*)::text as n from pg_stat_activity
       where datname = current_database() and wait_event_type = 'Lock' and position($1 in query) > 0`,
      [fragment],
    );
    if (Number(rows[0]?.n ?? 0) > 0) return;
    if (Date.now() > deadline)
      throw new Error(`no backend blocked on a lock while running ${JSON.stringify(fragment)} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
