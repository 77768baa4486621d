import { timestampMs } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import type { Campaign } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { CampaignService, WatchEventType } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { safely } from "./guard.js";
import { JitterBackoff, sleep } from "./backoff.js";
import { servingAt, servingEntry, type ServingEntry } from "./serving-rule.js";
import { TokenCache } from "./tokens.js";
import { createAdbudgetTransport, type TransportOptions } from "./transport.js";

/** Why `onChange` was called (docs/sdk.md). */
export type ChangeCause = "server" | "clock" | "stale";

/** Options of a ServingCache. */
export interface ServingCacheOptions extends Omit<TransportOptions, "baseUrl"> {
  /** The campaign service. */
  campaignUrl: string;
  /** Only this brand's campaigns; absent: every brand the token names. */
  brandId?: string;
  /** Out of sync for longer than this, the stale policy applies (default 30 s). */
  staleAfterMs?: number;
  /** `stop` (default: every lookup answers false, safe for money) or `keep` (answer from the last table). */
  whenStale?: "stop" | "keep";
  /** The time source (default the wall clock); `next_change_time` is compared with it. */
  now?: () => number;
  /** Called when what `isServing(id)` answers changes. Runs on the event loop: keep it short. */
  onChange?: (campaignId: string, serving: boolean, cause: ChangeCause) => void;
  /** Called when the stream fails (it is opened again): for the ad server's logs and alerts. */
  onError?: (error: ConnectError) => void;
  /** Uniform numbers in [0, 1) that `shouldServe` samples the throttle with (default Math.random). */
  random?: () => number;
}

/** Counters of a cache: what tests and /metrics read. */
export interface ServingCacheStats {
  campaigns: number;
  /** Streams that ended and were opened again. */
  reconnects: number;
  /** Snapshots completed (the first one, then one per reconnect). */
  snapshots: number;
  /** CHANGED and DELETED messages applied. */
  events: number;
  /** The last error the stream ended with ("" if none). */
  lastError: string;
}

/** setTimeout's longest delay (2^31 - 1 ms, ~24.8 days); a later flip is re-armed at this. */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Reconnect backoff: 100 ms doubling to 5 s, full jitter (a fleet reconnects spread out). */
const RECONNECT_MIN_MS = 100;
const RECONNECT_MAX_MS = 5_000;
/**
 * A stream counts as healthy (the backoff starts over) once it has stayed up this long after its
 * snapshot: a replica that ends every stream right after the snapshot (one shutting down) gets a
 * backoff, not a reconnect, and a full snapshot, every 100 ms.
 */
const HEALTHY_STREAM_MS = 5_000;

type Row = { entry: ServingEntry; campaign: Campaign };

/** A campaign's throttle at `now`, clamped to [0, 1] (NaN: 0, never serve); 1 once expired or absent. */
function throttleAt(c: Campaign | undefined, now: number): number {
  const t = c?.throttle;
  if (t === undefined) return 1;
  if (c?.throttleExpireTime !== undefined && now >= timestampMs(c.throttleExpireTime)) return 1;
  return Number.isNaN(t) ? 0 : Math.min(1, Math.max(0, t));
}

/**
 * The serving state of a brand's campaigns, in memory, for an ad server's every decision
 * (docs/sdk.md): filled from WatchCampaigns, switched at each campaign's `next_change_time` by
 * the lookup itself, resynchronized from a fresh snapshot after any break of the stream.
 * `onChange` is told every change of an answer once, against what it was last told.
 */
export class ServingCache {
  private table = new Map<string, Row>();
  /** What `onChange` was last told per campaign (absent: false, as for a campaign not known). */
  private readonly reported = new Map<string, boolean>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly abort = new AbortController();
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly staleAfterMs: number;
  private readonly stopWhenStale: boolean;
  private readonly client: Client<typeof CampaignService>;
  private readonly tokens: TokenCache;
  /** 0 while in sync; else the instant the cache was last in sync (or started). */
  private outOfSyncSince: number;
  private staleTimer: NodeJS.Timeout | undefined;
  private readonly counters = { reconnects: 0, snapshots: 0, events: 0, lastError: "" };
  private readonly loop: Promise<void>;
  private readonly readiness = Promise.withResolvers<void>();
  /** Resolves when the first snapshot is complete; rejects if the cache is closed before. */
  readonly ready: Promise<void> = this.readiness.promise;

  constructor(private readonly options: ServingCacheOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.staleAfterMs = options.staleAfterMs ?? 30_000;
    if (!Number.isInteger(this.staleAfterMs) || this.staleAfterMs < 1 || this.staleAfterMs > MAX_TIMER_MS - 1)
      throw new RangeError(`staleAfterMs must be an integer from 1 to ${MAX_TIMER_MS - 1}`);
    this.stopWhenStale = (options.whenStale ?? "stop") === "stop";
    // Tokens live on the wall clock (the server checks `exp` against it), whatever `now` is.
    this.tokens = options.tokens instanceof TokenCache ? options.tokens : new TokenCache(options.tokens);
    this.client = createClient(
      CampaignService,
      createAdbudgetTransport({ ...options, tokens: this.tokens, baseUrl: options.campaignUrl }),
    );
    this.outOfSyncSince = this.now();
    // A rejection nobody awaits (closed before ready) must not end the process.
    this.ready.catch(() => undefined);
    this.loop = this.watch();
  }

  /** Whether the campaign may serve now: memory only, exact at the millisecond. */
  isServing(campaignId: string): boolean {
    return this.answer(this.table.get(campaignId), this.now());
  }

  /**
   * Whether to serve the campaign on this opportunity: `isServing`, then a draw against the
   * campaign's pacing throttle (Campaign.throttle; absent = 1), so a paced campaign takes that
   * share of its opportunities and its budget lasts the day. Memory only.
   */
  shouldServe(campaignId: string): boolean {
    const row = this.table.get(campaignId);
    const now = this.now();
    if (!this.answer(row, now)) return false;
    const throttle = throttleAt(row?.campaign, now);
    return throttle >= 1 || (throttle > 0 && this.random() < throttle);
  }

  /**
   * The campaign's pacing throttle now, in [0, 1]: 1 when unpaced, unknown, sent by a server
   * before pacing, or past its `throttle_expire_time` (the end of the day it was computed for).
   */
  throttle(campaignId: string): number {
    return throttleAt(this.table.get(campaignId)?.campaign, this.now());
  }

  /** The campaign as the server last sent it (settings, reasons), or undefined. */
  campaign(campaignId: string): Campaign | undefined {
    return this.table.get(campaignId)?.campaign;
  }

  /** Milliseconds since the cache was last in sync; 0 while the stream is up and synced. */
  staleness(): number {
    return this.outOfSyncSince === 0 ? 0 : Math.max(0, this.now() - this.outOfSyncSince);
  }

  stats(): ServingCacheStats {
    return { campaigns: this.table.size, ...this.counters };
  }

  /** Stops watching; lookups keep answering from the last table, and go stale (no more `onChange`). */
  async close(): Promise<void> {
    this.abort.abort();
    await this.loop;
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.staleTimer);
    if (this.outOfSyncSince === 0) this.outOfSyncSince = this.now();
    this.readiness.reject(new Error("the serving cache was closed before its first snapshot"));
  }

  private async watch(): Promise<void> {
    const backoff = new JitterBackoff(RECONNECT_MIN_MS, RECONNECT_MAX_MS);
    const signal = this.abort.signal;
    while (!signal.aborted) {
      let fresh: Map<string, Row> | undefined = new Map();
      let token: string | undefined;
      let syncedAt: number | undefined;
      let error: ConnectError | undefined;
      try {
        token = await this.tokens.get();
        const stream = this.client.watchCampaigns({ brandId: this.options.brandId ?? "" }, { signal, timeoutMs: 0 });
        for await (const msg of stream) {
          const c = msg.campaign;
          if (msg.type === WatchEventType.SNAPSHOT_COMPLETE && fresh !== undefined) {
            this.replaceTable(fresh);
            fresh = undefined;
            syncedAt = Date.now();
          } else if (c === undefined) {
            continue;
          } else if (fresh !== undefined) {
            if (msg.type !== WatchEventType.DELETED) fresh.set(c.id, { entry: servingEntry(c), campaign: c });
            else fresh.delete(c.id);
          } else {
            this.counters.events++;
            this.apply(c.id, msg.type === WatchEventType.DELETED ? undefined : c);
          }
        }
      } catch (err) {
        error = ConnectError.from(err);
      }
      if (signal.aborted) break;
      if (syncedAt !== undefined && Date.now() - syncedAt >= HEALTHY_STREAM_MS) backoff.reset();
      let wait = backoff.next();
      if (error !== undefined) {
        this.counters.lastError = `${Code[error.code]}: ${error.rawMessage}`;
        safely(() => this.options.onError?.(error));
        // The token expired (the server ends streams then) or was refused: ask for a fresh one,
        // and reconnect at once the first time (a token's expiry is no outage).
        if (error.code === Code.Unauthenticated) {
          this.tokens.invalidate(token);
          if (backoff.failures === 1) wait = 0;
        }
      }
      this.lostSync();
      this.counters.reconnects++;
      await sleep(wait, signal);
    }
  }

  /** What `isServing` answers for `row` now, with the stale policy. */
  private answer(row: Row | undefined, now: number): boolean {
    if (row === undefined) return false;
    if (this.stopWhenStale && this.outOfSyncSince !== 0 && now - this.outOfSyncSince > this.staleAfterMs) return false;
    return servingAt(row.entry, now);
  }

  /** Tells `onChange` when `serving` differs from what it was last told about `id`. */
  private notify(id: string, serving: boolean, cause: ChangeCause): void {
    if ((this.reported.get(id) ?? false) === serving) return;
    if (serving) this.reported.set(id, true);
    else this.reported.delete(id);
    safely(() => this.options.onChange?.(id, serving, cause));
  }

  /** A snapshot completed: it is the truth now. Every answer that differs from the last told is told. */
  private replaceTable(fresh: Map<string, Row>): void {
    const old = this.table;
    this.table = fresh;
    this.outOfSyncSince = 0;
    clearTimeout(this.staleTimer);
    this.counters.snapshots++;
    for (const id of old.keys()) if (!fresh.has(id)) this.clearTimer(id);
    for (const [id, row] of fresh) this.armTimer(id, row.entry);
    const now = this.now();
    for (const id of new Set([...this.reported.keys(), ...fresh.keys()]))
      this.notify(id, this.answer(fresh.get(id), now), "server");
    this.readiness.resolve();
  }

  /** One committed change (undefined: deleted). */
  private apply(id: string, campaign: Campaign | undefined): void {
    if (campaign === undefined) {
      this.table.delete(id);
      this.clearTimer(id);
    } else {
      const entry = servingEntry(campaign);
      this.table.set(id, { entry, campaign });
      this.armTimer(id, entry);
    }
    this.notify(id, this.answer(this.table.get(id), this.now()), "server");
  }

  /** The stream broke: count staleness from now, and apply the policy when it runs out. */
  private lostSync(): void {
    if (this.outOfSyncSince !== 0) return;
    const since = this.now();
    this.outOfSyncSince = since;
    if (!this.stopWhenStale || this.options.onChange === undefined) return;
    const fire = () => {
      if (this.outOfSyncSince !== since) return;
      const now = this.now();
      // The lookups' clock and the timers' may disagree by a millisecond: wait until they agree.
      if (now - since <= this.staleAfterMs)
        return void (this.staleTimer = setTimeout(fire, since + this.staleAfterMs + 1 - now));
      for (const id of [...this.reported.keys()]) this.notify(id, this.answer(this.table.get(id), now), "stale");
    };
    this.staleTimer = setTimeout(fire, this.staleAfterMs + 1);
    this.staleTimer.unref();
  }

  /** The `clock` notification at the entry's flip; lookups do not need it. */
  private armTimer(id: string, entry: ServingEntry): void {
    this.clearTimer(id);
    if (entry.before === entry.after || !Number.isFinite(entry.flipAtMs)) return;
    const delay = entry.flipAtMs - this.now();
    if (delay < 0) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(id);
        const row = this.table.get(id);
        if (row?.entry !== entry) return;
        // Past setTimeout's range, or a timer that fired a millisecond early: wait on.
        const now = this.now();
        if (now < entry.flipAtMs) return this.armTimer(id, entry);
        this.notify(id, this.answer(row, now), "clock");
      },
      Math.min(Math.max(delay, 0), MAX_TIMER_MS),
    );
    timer.unref();
    this.timers.set(id, timer);
  }

  private clearTimer(id: string): void {
    const t = this.timers.get(id);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(id);
  }
}
