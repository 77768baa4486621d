import { Code, ConnectError } from "@connectrpc/connect";

/** gRPC's `grpc-timeout` units (gRPC over HTTP/2 spec), in milliseconds. */
const GRPC_UNITS: Record<string, number> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 };

/**
 * The caller's deadline, from the headers every protocol uses for it: `grpc-timeout` (gRPC,
 * gRPC-Web) or `connect-timeout-ms` (Connect). Undefined when the caller set none (or sent one
 * that does not parse: Connect itself answers that).
 */
export function callTimeoutMs(header: Headers): number | undefined {
  const grpc = header.get("grpc-timeout");
  if (grpc !== null) {
    const m = /^(\d{1,8})([HMSmun])$/.exec(grpc);
    return m === null ? undefined : Number(m[1]) * GRPC_UNITS[m[2]];
  }
  const connect = header.get("connect-timeout-ms");
  if (connect !== null && /^\d{1,10}$/.test(connect)) return Number(connect);
  return undefined;
}

/**
 * `work`, unless the caller's deadline passes first: then DEADLINE_EXCEEDED at the deadline, as
 * the caller sees it (the work may still complete: a retry with the same id finds it). Connect
 * aborts the call's signal at the deadline but a handler that ignores it would answer OK late.
 */
export function withinDeadline<T>(work: Promise<T>, timeoutMs: number | undefined): Promise<T> {
  if (timeoutMs === undefined) return work;
  if (timeoutMs <= 0) return Promise.reject(deadlineExceeded());
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(deadlineExceeded()), timeoutMs);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

export function deadlineExceeded(): ConnectError {
  return new ConnectError("the call's deadline passed before it was done", Code.DeadlineExceeded);
}
