import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import {
  AlreadyExistsError,
  EtagMismatchError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
  isDataError,
  isTransient,
  toConnectError,
} from "./errors.js";

describe("toConnectError", () => {
  it.each([
    [new NotFoundError("brand", "x"), Code.NotFound],
    [new AlreadyExistsError("dup"), Code.AlreadyExists],
    [new FailedPreconditionError("no"), Code.FailedPrecondition],
    [new EtagMismatchError("brand", "x"), Code.Aborted],
    [new ConnectError("as is", Code.PermissionDenied), Code.PermissionDenied],
    [Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }), Code.Unavailable],
    [Object.assign(new Error("could not serialize access"), { code: "40001" }), Code.Unavailable],
  ])("maps %s", (err, code) => {
    const { error, internal } = toConnectError(err, "req-1");
    expect(error.code).toBe(code);
    expect(internal).toBe(false);
  });

  it("carries field violations as google.rpc.BadRequest", () => {
    const { error } = toConnectError(new InvalidArgumentError([{ field: "brand.name", description: "too long" }]), "r");
    expect(error.code).toBe(Code.InvalidArgument);
    expect(error.findDetails(BadRequestSchema)[0]?.fieldViolations[0]).toMatchObject({ field: "brand.name" });
  });

  it("hides the internals of unexpected errors behind the request id", () => {
    const { error, internal } = toConnectError(new TypeError("cannot read x of undefined at secret.ts:12"), "req-42");
    expect(error.code).toBe(Code.Internal);
    expect(internal).toBe(true);
    expect(error.rawMessage).toBe("internal error (request id req-42)");
  });

  it("sees transient causes through wrapping", () => {
    const inner = Object.assign(new Error("reset"), { code: "ECONNRESET" });
    expect(isTransient(new Error("query failed", { cause: inner }))).toBe(true);
    expect(isTransient(new Error("syntax error"))).toBe(false);
  });

  it("calls a failover's errors transient: a connection lost between statements, a read-only server, none writable", () => {
    // pg's message for a query on a client whose connection died after the previous statement
    // (seen in pg-failover.test.ts: a commit after the primary was lost).
    expect(isTransient(new Error("Client has encountered a connection error and is not queryable"))).toBe(true);
    expect(
      isTransient(Object.assign(new Error("cannot execute INSERT in a read-only transaction"), { code: "25006" })),
    ).toBe(true);
    expect(
      isTransient(Object.assign(new Error("no PostgreSQL server accepts writes"), { code: "ENOWRITABLESERVER" })),
    ).toBe(true);
  });
});

/** What node-postgres throws (a DatabaseError with the SQLSTATE in `code`), as MikroORM may wrap it. */
function pgError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code, severity: "ERROR", table: "spend_events", column: "event_id" });
}

describe("PostgreSQL data errors", () => {
  it.each([
    ["22021", 'invalid byte sequence for encoding "UTF8": 0x00'],
    ["22003", 'value "99999999999999999999" is out of range for type bigint'],
    ["22007", 'invalid input syntax for type timestamp: "x"'],
    ["22008", "timestamp out of range"],
    ["22P02", 'invalid input syntax for type uuid: "x"'],
    ["22001", "value too long for type character varying(128)"],
  ])("maps SQLSTATE %s to INVALID_ARGUMENT without leaking the database's message", (code, message) => {
    const { error, internal } = toConnectError(pgError(code, message), "req-7");
    expect(error.code).toBe(Code.InvalidArgument);
    expect(internal).toBe(false);
    expect(error.rawMessage).toBe(`a value in the request is out of range or malformed (SQLSTATE ${code})`);
    expect(error.rawMessage).not.toContain("spend_events");
    expect(isDataError(pgError(code, message))).toBe(true);
  });

  it("maps class 54 (program limit exceeded) to INVALID_ARGUMENT", () => {
    const err = pgError(
      "54000",
      'index row size 9000 exceeds btree version 4 maximum 2704 for index "spend_events_pkey"',
    );
    const { error, internal } = toConnectError(err, "r");
    expect(error.code).toBe(Code.InvalidArgument);
    expect(internal).toBe(false);
    expect(error.rawMessage).toBe("a value in the request is too large to store (SQLSTATE 54000)");
    expect(error.rawMessage).not.toContain("spend_events_pkey");
    expect(error.cause).toBe(err); // kept for the logs, never sent
  });

  it("sees data errors through wrapping (err.cause.code), and only those", () => {
    const wrapped = new Error("insert failed", { cause: pgError("22021", "invalid byte sequence") });
    expect(isDataError(wrapped)).toBe(true);
    expect(toConnectError(wrapped, "r").error.code).toBe(Code.InvalidArgument);
    expect(isDataError(pgError("23505", "duplicate key"))).toBe(false);
    expect(isDataError(pgError("40001", "could not serialize access"))).toBe(false);
    expect(isDataError(pgError("42P01", "relation does not exist"))).toBe(false); // our bug: INTERNAL
    expect(toConnectError(pgError("42P01", "relation does not exist"), "r").internal).toBe(true);
    expect(isDataError(Object.assign(new Error("x"), { code: 22021 }))).toBe(false);
    expect(isDataError("22021")).toBe(false);
    expect(isDataError(undefined)).toBe(false);
    const loop: Error & { cause?: unknown } = new Error("a");
    loop.cause = new Error("b", { cause: loop });
    expect(isDataError(loop)).toBe(false);
  });
});
