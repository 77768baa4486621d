import pg from "pg";
import type { Verdict } from "./invariants.ts";

/**
 * A connection to a service's database through the suite's toxiproxy (as the services reach it),
 * opened before a fault, to time what the fault does to a query.
 */
export class ProxiedProbe {
  private readonly client: pg.Client;

  private constructor(client: pg.Client) {
    this.client = client;
  }

  /** `databaseUrl` with its host replaced by the proxy's listening port. */
  static async open(databaseUrl: string, proxyPort: number): Promise<ProxiedProbe> {
    const u = new URL(databaseUrl);
    u.host = `127.0.0.1:${proxyPort}`;
    const client = new pg.Client({ connectionString: u.toString() });
    client.on("error", () => undefined);
    await client.connect();
    return new ProxiedProbe(client);
  }

  /** One `select 1`, ms (NaN if it failed). */
  async roundTripMs(): Promise<number> {
    const t = performance.now();
    return this.client.query("select 1").then(
      () => performance.now() - t,
      () => NaN,
    );
  }

  async close(): Promise<void> {
    await this.client.end().catch(() => undefined);
  }
}

/**
 * The database latency fault took effect: a query through the proxy took at least the added
 * latency both ways while it was on (without it a query takes a millisecond or two).
 */
export function latencyVerdict(normalMs: number, slowedMs: number, addedEachWayMs: number): Verdict {
  // 90 %: the proxy's timers may fire a hair early; an unslowed query takes a millisecond or two.
  const ok = slowedMs >= 1.8 * addedEachWayMs;
  return {
    name: `PostgreSQL's added latency took effect: a query through the proxy took about ${(2 * addedEachWayMs) / 1000}s while it was on`,
    ok,
    figures: `select 1 took ${normalMs.toFixed(0)} ms before, ${slowedMs.toFixed(0)} ms slowed`,
    problems: ok
      ? []
      : [
          `select 1 took ${slowedMs.toFixed(0)} ms while slowed by ${addedEachWayMs} ms each way: the fault did not take effect`,
        ],
  };
}
