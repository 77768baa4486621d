import { headers as natsHeaders, type NatsConnection } from "@nats-io/transport-node";
import { jetstream, type JetStreamClient } from "@nats-io/jetstream";
import type pg from "pg";
import { Backoff } from "./backoff.js";
import type { Logger } from "./logger.js";
import { ensureStream, type StreamDefinition } from "./streams.js";

/** Pause before a dropped LISTEN connection is replaced (the relay polls meanwhile). */
const LISTEN_RETRY_MS = 2000;

export interface RelayOptions {
  /** Stream the subjects go to; created if missing. */
  stream: StreamDefinition;
  /** LISTEN channel that wakes the relay (the one writeOutbox notifies). */
  channel: string;
  /** Advisory lock key: one relay of this service publishes at a time, across replicas. */
  lockKey: number;
  /** Most rows published per cycle. */
  batchSize?: number;
  /** Fallback poll interval when no notification arrives. */
  pollMs?: number;
  /** Backoff bounds while NATS is unreachable. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Called with the number of events JetStream acknowledged and the outbox marked, per cycle. */
  onPublished?: (count: number) => void;
}

/**
 * Publishes a service's outbox to JetStream, in id order, with `Nats-Msg-Id` = event id.
 *
 * - Order: rows are published one after the other in id order (ids increase per aggregate in
 *   commit order) and a failure stops the cycle at that row, so nothing is ever published out
 *   of order or skipped; the next cycle starts again from the first unpublished row.
 * - Once: a row is marked published only after JetStream acknowledged it. A crash between the
 *   two re-publishes it, and JetStream drops the copy by its Nats-Msg-Id (duplicate window).
 * - One relay at a time: a transaction-scoped advisory lock; other replicas skip the cycle.
 * - While NATS is down, cycles back off exponentially (100 ms .. 5 s); the service keeps
 *   committing changes and their events wait in the outbox.
 */
export class OutboxRelay {
  private js: JetStreamClient;
  private stopped = false;
  private wakeUp: (() => void) | undefined;
  private woken = false;
  private running: Promise<void> | undefined;
  private streamReady = false;
  private listener: pg.PoolClient | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly nc: NatsConnection,
    private readonly logger: Logger,
    private readonly options: RelayOptions,
  ) {
    this.js = jetstream(nc);
  }

  start(): void {
    this.running = this.loop();
    void this.listen();
  }

  /**
   * Runs a cycle now (called after a commit that wrote outbox rows). A wake-up that comes while
   * a cycle runs is kept for after it: that cycle's read may have missed the new rows, which
   * would otherwise wait for the next poll (a second).
   */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.running;
    const listener = this.listener;
    this.listener = undefined;
    listener?.release();
  }

  /** Rows not yet published. */
  async pending(): Promise<number> {
    const { rows } = await this.pool.query<{ n: string }>(
      "select count(*)::text as n from outbox where published_at is null",
    );
    return Number(rows[0].n);
  }

  /**
   * Other replicas' commits wake this relay too, through LISTEN/NOTIFY. A listening connection
   * that the database drops is replaced (after a pause, so an outage is not a reconnect storm);
   * meanwhile the relay polls.
   */
  private async listen(): Promise<void> {
    if (this.stopped) return;
    let client: pg.PoolClient | undefined;
    let replaced = false;
    const replace = () => {
      if (replaced) return;
      replaced = true;
      if (client !== undefined && this.listener === client) {
        this.listener = undefined;
        client.release(true);
      }
      if (!this.stopped) setTimeout(() => void this.listen(), LISTEN_RETRY_MS).unref();
    };
    try {
      client = await this.pool.connect();
      this.listener = client;
      client.on("notification", () => this.wake());
      client.on("error", replace);
      await client.query(`listen ${this.options.channel}`);
    } catch (err) {
      this.logger.warn(
        { err: (err as Error).message, retryInMs: LISTEN_RETRY_MS },
        "outbox relay: LISTEN failed, polling meanwhile",
      );
      replace();
    }
  }

  private async ensureStream(): Promise<void> {
    if (this.streamReady) return;
    await ensureStream(this.nc, this.options.stream, this.logger);
    this.streamReady = true;
  }

  private async loop(): Promise<void> {
    const backoff = new Backoff(this.options.minBackoffMs, this.options.maxBackoffMs);
    while (!this.stopped) {
      let more = false;
      let retryInMs = 0;
      // Wake-ups from here on ask for another cycle after this one.
      this.woken = false;
      try {
        await this.ensureStream();
        more = await this.cycle();
        if (backoff.reset()) this.logger.info("outbox relay: publishing again");
      } catch (err) {
        retryInMs = backoff.next();
        const message = err instanceof Error ? err.message : String(err);
        this.logger.warn({ err: message, retryInMs }, "outbox relay: publish failed, will retry");
      }
      if (more && retryInMs === 0) continue;
      await this.sleep(retryInMs || (this.options.pollMs ?? 1000));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.woken) return resolve();
      const done = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeUp = done;
    });
  }

  /**
   * Publishes one batch. Returns true when more rows may be pending.
   *
   * Two round trips to PostgreSQL per cycle, not five: `begin`, the advisory lock and the read go
   * as one simple-protocol query, and so do the mark and the `commit` (every value inlined is a
   * number of ours: the lock key, the limit, the ids read back). The lock is an initplan of the
   * read, taken once: a replica that does not get it reads no rows, and ends its transaction.
   */
  private async cycle(): Promise<boolean> {
    const client = await this.pool.connect();
    const limit = Math.trunc(this.options.batchSize ?? 500);
    const lockKey = Math.trunc(this.options.lockKey);
    try {
      const results = (await client.query(
        `begin; select id::text, event_id::text, subject, payload, trace_parent from outbox
         where published_at is null and (select pg_try_advisory_xact_lock(${lockKey})) order by id limit ${limit}`,
      )) as unknown as pg.QueryResult<{
        id: string;
        event_id: string;
        subject: string;
        payload: Buffer;
        trace_parent: string | null;
      }>[];
      const rows = results[1].rows;
      const done: string[] = [];
      let failure: Error | undefined;
      for (const row of rows) {
        try {
          let headers;
          if (row.trace_parent) {
            headers = natsHeaders();
            headers.set("traceparent", row.trace_parent);
          }
          await this.js.publish(row.subject, row.payload, { msgID: row.event_id, timeout: 5000, headers });
          done.push(row.id);
        } catch (err) {
          failure = err instanceof Error ? err : new Error(String(err));
          break;
        }
      }
      const ids = done.filter((id) => /^\d+$/.test(id));
      await client.query(
        ids.length > 0
          ? `update outbox set published_at = now() where id = any('{${ids.join(",")}}'::bigint[]); commit`
          : "commit",
      );
      const published = done.length;
      if (published > 0) {
        this.logger.debug({ published }, "outbox relay: published");
        this.options.onPublished?.(published);
      }
      if (failure !== undefined) throw failure;
      return rows.length === limit;
    } catch (err) {
      await client.query("rollback").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
}
