import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import { Health, HealthCheckResponse_ServingStatus as Status } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import { clip } from "./errors.js";
import type { Logger } from "./logger.js";

export { HealthCheckResponse_ServingStatus as ServingStatus } from "@adbudget/proto/grpc/health/v1/health_pb.js";

/**
 * The health "service" a liveness probe asks: SERVING whenever the process answers at all. A
 * database outage makes every replica unready (taken out of rotation) but must not make them
 * look dead: restarting every pod of every service would not bring the database back, and would
 * drop what the outboxes and consumers hold in memory for the moment it does.
 */
export const LIVENESS_SERVICE = "liveness";

/** A readiness probe: resolves true when the dependency answers. Must not hang (see timeout). */
export type Probe = () => Promise<boolean>;

export interface HealthOptions {
  /** Fully qualified names of the services this server serves; "" is the whole server. */
  services: string[];
  /** Named probes; the server is SERVING only while every probe passes. */
  probes: Record<string, Probe>;
  /** How often Watch re-checks, and how long a Check result is reused. */
  intervalMs?: number;
  /** How long one probe may take before it counts as failed. */
  probeTimeoutMs?: number;
  logger?: Logger;
}

/**
 * grpc.health.v1 that reports real readiness: a service is SERVING only while every probe
 * passes (for our services, "the database answers a query"), and NOT_SERVING once shutdown has
 * begun, so load balancers stop sending before the server stops listening. Kubernetes' native
 * gRPC probes and grpc-health-probe call Check; Watch streams every change.
 */
export class HealthMonitor {
  private status: Status = Status.UNKNOWN;
  private lastCheck = 0;
  private inflight: Promise<Status> | undefined;
  private shuttingDown = false;
  private readonly listeners = new Set<(s: Status) => void>();
  private readonly intervalMs: number;
  private readonly probeTimeoutMs: number;

  constructor(private readonly options: HealthOptions) {
    this.intervalMs = options.intervalMs ?? 1000;
    this.probeTimeoutMs = options.probeTimeoutMs ?? 2000;
  }

  get services(): readonly string[] {
    return this.options.services;
  }

  knows(service: string): boolean {
    return service === "" || service === LIVENESS_SERVICE || this.options.services.includes(service);
  }

  /** The status of `service`: alive (LIVENESS_SERVICE) or ready (any other). */
  async statusOf(service: string): Promise<Status> {
    return service === LIVENESS_SERVICE ? Status.SERVING : this.current();
  }

  /** The current readiness, re-probing when the last result is older than the interval. */
  async current(): Promise<Status> {
    if (this.shuttingDown) return Status.NOT_SERVING;
    if (Date.now() - this.lastCheck < this.intervalMs && this.status !== Status.UNKNOWN) return this.status;
    this.inflight ??= this.probe().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  /** Marks the server NOT_SERVING for good: called first thing on shutdown. */
  shutdown(): void {
    this.shuttingDown = true;
    this.set(Status.NOT_SERVING);
  }

  /** Calls `listener` on every status change until the returned function is called. */
  subscribe(listener: (s: Status) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async probe(): Promise<Status> {
    const failed: string[] = [];
    await Promise.all(
      Object.entries(this.options.probes).map(async ([name, probe]) => {
        const ok = await withTimeout(probe(), this.probeTimeoutMs).catch(() => false);
        if (!ok) failed.push(name);
      }),
    );
    this.lastCheck = Date.now();
    const next = failed.length === 0 && !this.shuttingDown ? Status.SERVING : Status.NOT_SERVING;
    if (next !== this.status && failed.length > 0) this.options.logger?.warn({ failed }, "not ready");
    if (next !== this.status && next === Status.SERVING) this.options.logger?.info("ready");
    this.set(next);
    return next;
  }

  private set(next: Status): void {
    if (next === this.status) return;
    this.status = next;
    for (const l of this.listeners) l(next);
  }

  /** Polls while anyone watches, so Watch streams see changes without being asked. */
  async *watch(signal: AbortSignal): AsyncGenerator<Status> {
    let last: Status | undefined;
    while (!signal.aborted) {
      const now = await this.current();
      if (now !== last) {
        last = now;
        yield now;
      }
      if (this.shuttingDown) return;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, this.intervalMs);
        const unsubscribe = this.subscribe(done);
        signal.addEventListener("abort", done, { once: true });
        function done() {
          clearTimeout(timer);
          unsubscribe();
          signal.removeEventListener("abort", done);
          resolve();
        }
      });
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`probe timed out after ${ms}ms`)), ms);
    p.then(resolve, reject).finally(() => clearTimeout(timer));
  });
}

/** Registers grpc.health.v1.Health on a router. */
export function healthRoutes(router: ConnectRouter, monitor: HealthMonitor): void {
  router.service(Health, {
    async check(req) {
      if (!monitor.knows(req.service)) {
        throw new ConnectError(`unknown service ${JSON.stringify(clip(req.service, 200))}`, Code.NotFound);
      }
      return { status: await monitor.statusOf(req.service) };
    },
    async *watch(req, ctx) {
      if (!monitor.knows(req.service)) {
        // Per the health protocol, Watch answers SERVICE_UNKNOWN instead of failing, and keeps
        // the stream open (the service may appear after a deploy; ours never does).
        yield { status: Status.SERVICE_UNKNOWN };
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        return;
      }
      if (req.service === LIVENESS_SERVICE) {
        yield { status: Status.SERVING };
        await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
        return;
      }
      for await (const status of monitor.watch(ctx.signal)) yield { status };
    },
    async list() {
      const status = await monitor.current();
      const statuses: Record<string, { status: Status }> = { "": { status } };
      for (const s of monitor.services) statuses[s] = { status };
      return { statuses };
    },
  });
}
