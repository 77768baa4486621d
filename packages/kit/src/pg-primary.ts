import { Socket } from "node:net";
import pg from "pg";
import { isTransient } from "./errors.js";
import type { Logger } from "./logger.js";
import { pgUrlWithDatabase, type PgHost, type PgUrl } from "./pg-url.js";

/**
 * Sends every new connection of a pool to the server of a multi-host URL that accepts writes,
 * as libpq does with `target_session_attrs=read-write`: after a failover the promoted standby is
 * found without a restart or a proxy. `pg` takes a `stream` factory; the socket it returns
 * connects to the located server whatever host `pg` names. Returns undefined for a plain
 * one-host URL (`pg` connects as usual).
 *
 * A connection never turns read-only under its holder: a failover tool restarts the old primary
 * to demote it, which drops its connections (their queries fail and `isTransient` makes them
 * UNAVAILABLE). The one gap, a server demoted between the probe and the connection, shows as
 * SQLSTATE 25006 on the first write, also UNAVAILABLE.
 */
export function primaryStream(url: PgUrl, logger: Logger): (() => Socket) | undefined {
  if (url.hosts.length === 1 && !url.readWrite) return undefined;
  const locator = new PrimaryLocator(url, logger.child({ component: "pg-primary" }));
  return () => new LocatedSocket(locator);
}

/** Thrown when no server of the URL accepts writes (all down, or a failover under way). */
export class NoWritableServerError extends Error {
  /** Read by `isTransient`: the call is UNAVAILABLE, to be retried. */
  readonly code = "ENOWRITABLESERVER";
}

/**
 * How long a located server is trusted without asking again: a pool that opens many connections
 * at once (a burst, a restart) asks each server once, and a connection that fails forgets the
 * answer at once, so after a failover the next connection asks again.
 */
const KNOWN_MS = 1000;
/** A probe's connect and its query, each: a server that has not answered by then is not the one. */
const PROBE_TIMEOUT_MS = 1000;
/**
 * The whole search, shorter than the pools' 3 s connect timeout, so that a search that finds
 * nothing fails the connection with its own reason (UNAVAILABLE) rather than pg's timeout.
 */
const LOCATE_TIMEOUT_MS = 2000;
/** SQLSTATE 3D000: the database named does not exist. */
const INVALID_CATALOG_NAME = "3D000";

class PrimaryLocator {
  #known: { host: PgHost; until: number } | undefined;
  /** The server last located, to log only a change. */
  #lastHost: PgHost | undefined;
  #asking: Promise<PgHost> | undefined;

  constructor(
    private readonly url: PgUrl,
    private readonly logger: Logger,
  ) {}

  locate(): Promise<PgHost> {
    if (this.#known && this.#known.until > Date.now()) return Promise.resolve(this.#known.host);
    this.#asking ??= this.#ask().finally(() => (this.#asking = undefined));
    return this.#asking;
  }

  /** A connection to `host` failed: ask again before the next one. */
  forget(host: PgHost): void {
    if (this.#known?.host === host) this.#known = undefined;
  }

  /**
   * Asks every server at once; the first that answers writable wins (a failover pair has one),
   * without waiting for a frozen or slow server. None within LOCATE_TIMEOUT_MS: UNAVAILABLE,
   * unless a server refused us for a reason no retry mends (a wrong password, no such user):
   * that error itself, so the mistake shows instead of an endless "try again".
   */
  async #ask(): Promise<PgHost> {
    const failures: ("read-only" | Error)[] = [];
    const probes = this.url.hosts.map(async (host) => {
      const answer = await this.#probe(host);
      if (answer === "writable") return host;
      failures.push(answer);
      throw new Error("not writable");
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<undefined>(
      (resolve) => (timer = setTimeout(() => resolve(undefined), LOCATE_TIMEOUT_MS)),
    );
    const host = await Promise.race([Promise.any(probes).catch(() => undefined), deadline]).finally(() =>
      clearTimeout(timer),
    );
    if (host === undefined) {
      // A SQLSTATE that is not transient: the server answered, and refused us for good.
      const permanent = failures.find((f): f is Error => f instanceof Error && "code" in f && !isTransient(f));
      if (permanent !== undefined) throw permanent;
      const what = failures.map((f) => (f instanceof Error ? f.message : String(f))).join("; ");
      throw new NoWritableServerError(
        `no PostgreSQL server accepts writes within ${LOCATE_TIMEOUT_MS} ms (${this.url.hosts.length} asked${what ? `: ${what}` : ""})`,
      );
    }
    if (this.#lastHost !== host) this.logger.info({ host: `${host.host}:${host.port}` }, "writable server located");
    this.#lastHost = host;
    this.#known = { host, until: Date.now() + KNOWN_MS };
    return host;
  }

  /**
   * Asks `host` whether it takes writes, in the URL's database; when that database does not
   * exist yet (a service creates its own at its first start), in the `postgres` database.
   * Answers "writable", "read-only", or the error that kept it from answering.
   */
  async #probe(host: PgHost, database?: string): Promise<"writable" | "read-only" | Error> {
    const url = this.url.forHost(host);
    const client = new pg.Client({
      connectionString: database === undefined ? url : pgUrlWithDatabase(url, database),
      connectionTimeoutMillis: PROBE_TIMEOUT_MS,
      query_timeout: PROBE_TIMEOUT_MS,
    });
    client.on("error", () => undefined);
    try {
      await client.connect();
      if (!this.url.readWrite) return "writable";
      // libpq's own test for read-write: a standby (or a server set read-only) answers "on".
      const { rows } = await client.query<{ transaction_read_only: string }>("SHOW transaction_read_only");
      return rows[0]?.transaction_read_only === "off" ? "writable" : "read-only";
    } catch (err) {
      const { code } = err as { code?: unknown };
      if (code === INVALID_CATALOG_NAME && database === undefined) return this.#probe(host, "postgres");
      return err instanceof Error ? err : new Error(String(err));
    } finally {
      void client.end().catch(() => undefined);
    }
  }
}

/** A socket that connects where the locator says, whatever address `pg` asks for. */
class LocatedSocket extends Socket {
  constructor(private readonly locator: PrimaryLocator) {
    super();
  }

  override connect(): this {
    this.locator.locate().then(
      (host) => {
        // pg's connection timeout may have destroyed the socket while the servers were asked.
        if (this.destroyed) return;
        // Refused, reset, or closed by the server (a shutdown, a demotion): ask again next time.
        this.once("error", () => this.locator.forget(host));
        this.once("close", () => this.locator.forget(host));
        super.connect(host.port, host.host);
      },
      (err: unknown) => this.destroy(err instanceof Error ? err : new Error(String(err))),
    );
    return this;
  }
}
