import { Code, ConnectError } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { BadRequestSchema, BadRequest_FieldViolationSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";

/**
 * Domain errors: what the business rules say went wrong, independent of the transport.
 * Services throw these (or a ConnectError when they already speak gRPC); `toConnectError` is the
 * one place that turns anything thrown into a gRPC status. Nothing a caller sent may become
 * INTERNAL: that code is reserved for our own bugs and is logged with the request id.
 */
export abstract class DomainError extends Error {
  abstract readonly code: Code;
}

/** One invalid field: `field` is the path in the request, for example "item.time_zone". */
export interface FieldViolation {
  field: string;
  description: string;
}

export class InvalidArgumentError extends DomainError {
  readonly code = Code.InvalidArgument;
  constructor(readonly violations: FieldViolation[]) {
    super(violations.map((v) => `${v.field}: ${v.description}`).join("; "));
  }
}

/**
 * `value`, or InvalidArgumentError naming `field` when it is absent: for a message field the
 * request's protovalidate rules require, so a handler reads it narrowed, without an assertion.
 */
export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new InvalidArgumentError([{ field, description: "is required" }]);
  return value;
}

export class NotFoundError extends DomainError {
  readonly code = Code.NotFound;
  constructor(kind: string, id: string) {
    super(`${kind} ${JSON.stringify(clip(id, 200))} not found`);
  }
}

export class AlreadyExistsError extends DomainError {
  readonly code = Code.AlreadyExists;
}

export class FailedPreconditionError extends DomainError {
  readonly code = Code.FailedPrecondition;
}

/** Optimistic concurrency: the etag the caller sent is not the current one. */
export class EtagMismatchError extends DomainError {
  readonly code = Code.Aborted;
  constructor(kind: string, id: string) {
    super(`${kind} ${JSON.stringify(clip(id, 200))} was changed since it was read (etag mismatch): read it again`);
  }
}

export class UnavailableError extends DomainError {
  readonly code = Code.Unavailable;
}

/**
 * At most this many field violations are reported (a request can break thousands of rules at
 * once: 1001 list items with three bad fields each). Every error travels in HTTP/2 trailers,
 * and peers refuse header blocks past a few KiB to 64 KiB (grpc-go's default limit is 16 KiB):
 * an unbounded list would turn a caller's mistake into a transport error.
 */
export const MAX_VIOLATIONS = 20;
/** Longest message or violation text sent back; what a caller sent is echoed at most this far. */
export const MAX_ERROR_TEXT = 300;

/** `text` cut to `max` characters, saying how much was cut. */
export function clip(text: string, max = MAX_ERROR_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max)}... (${text.length - max} more characters)`;
}

/** A ConnectError with google.rpc.BadRequest field violations in its details (the first MAX_VIOLATIONS). */
export function invalidArgument(all: FieldViolation[]): ConnectError {
  const violations = all
    .slice(0, MAX_VIOLATIONS)
    .map((v) => ({ field: clip(v.field, 200), description: clip(v.description) }));
  if (all.length > MAX_VIOLATIONS)
    violations.push({ field: "", description: `and ${all.length - MAX_VIOLATIONS} more violations` });
  const message = clip(violations.map((v) => `${v.field}: ${v.description}`).join("; "), 2000);
  const fieldViolations = violations.map((v) =>
    create(BadRequest_FieldViolationSchema, { field: v.field, description: v.description }),
  );
  return new ConnectError(message, Code.InvalidArgument, undefined, [
    { desc: BadRequestSchema, value: { fieldViolations } },
  ]);
}

/**
 * PostgreSQL SQLSTATE classes that mean "try again", not "you sent something wrong": connection
 * (08), resources (53), shutdown (57P0x), serialization and deadlock, and 25006 (a write on a
 * server that is read-only: a standby, or a primary being demoted in a failover).
 */
const RETRIABLE_SQLSTATE = /^(08|53|57P0|40001|40P01|25006)/;
/** Node's network errors, and pg-primary.ts's "no server accepts writes" (a failover under way). */
const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  // A server's machine lost on a routed network (no reset comes back, the route goes).
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ECONNABORTED",
  "ENOWRITABLESERVER",
]);

/** True when the error says a dependency (database, broker) is unreachable or overloaded. */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const { code } = err as { code?: unknown };
  if (typeof code === "string" && (NETWORK_CODES.has(code) || RETRIABLE_SQLSTATE.test(code))) return true;
  // pg's own words for a connection lost: during a query, while connecting, and (the last) on
  // a query sent on a client whose connection died between two statements of a transaction.
  if (
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|connection error and is not queryable/i.test(
      err.message,
    )
  ) {
    return true;
  }
  return err.cause !== undefined && err.cause !== err && isTransient(err.cause);
}

/**
 * PostgreSQL SQLSTATE classes that mean "the data does not fit": class 22 (data exception: a NUL
 * or invalid byte sequence 22021, numeric value out of range 22003, bad datetime 22007/22008,
 * invalid text representation 22P02...) and class 54 (program limit exceeded: 54000 index row
 * too large...). Our queries are fixed; what varies is the data a caller sent, so these are the
 * caller's errors, not our bugs (and not worth a retry).
 */
const DATA_SQLSTATE = /^(22|54)[0-9A-Z]{3}$/;

/**
 * True when the error (or one of its causes: ORMs and pools wrap the driver's error) is a
 * PostgreSQL data exception (SQLSTATE class 22) or limit exceeded (class 54): a value in the
 * request cannot be stored. A batch writer that meets one should split the batch and retry the
 * halves, so that the one bad value fails alone and the other callers' work is done.
 */
export function isDataError(err: unknown): boolean {
  return dataSqlState(err) !== undefined;
}

/** The class 22/54 SQLSTATE of `err` or of its causes (a few levels deep, cycles are cut). */
function dataSqlState(err: unknown): string | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const { code } = e as { code?: unknown };
    if (typeof code === "string" && DATA_SQLSTATE.test(code)) return code;
    if (e.cause === e) break;
  }
  return undefined;
}

/**
 * Turns anything thrown by a handler into a ConnectError. Returns `internal: true` when the
 * error is ours (a bug or an unexpected state) so the caller logs it; its message is never sent.
 */
export function toConnectError(err: unknown, requestId: string): { error: ConnectError; internal: boolean } {
  if (err instanceof InvalidArgumentError) return { error: invalidArgument(err.violations), internal: false };
  if (err instanceof DomainError)
    return { error: new ConnectError(clip(err.message, 1000), err.code), internal: false };
  if (err instanceof ConnectError) {
    let error = err;
    if (err.rawMessage.length > 1000) {
      error = new ConnectError(clip(err.rawMessage, 1000), err.code, err.metadata, undefined, err.cause);
      error.details.push(...err.details);
    }
    return { error, internal: err.code === Code.Internal || err.code === Code.Unknown };
  }
  if (err instanceof Error && err.name === "AbortError") {
    return { error: new ConnectError("the call was canceled", Code.Canceled), internal: false };
  }
  const sqlState = dataSqlState(err);
  if (sqlState !== undefined) {
    // The database's message names columns and constraints: it stays in the logs (as the cause).
    const what = sqlState.startsWith("54")
      ? "a value in the request is too large to store"
      : "a value in the request is out of range or malformed";
    return {
      error: new ConnectError(`${what} (SQLSTATE ${sqlState})`, Code.InvalidArgument, undefined, undefined, err),
      internal: false,
    };
  }
  if (isTransient(err)) {
    return {
      error: new ConnectError(`a dependency is unavailable, retry later (request id ${requestId})`, Code.Unavailable),
      internal: false,
    };
  }
  return { error: new ConnectError(`internal error (request id ${requestId})`, Code.Internal), internal: true };
}
