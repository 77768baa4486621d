import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import {
  AlreadyExistsError,
  EtagMismatchError,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
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
});
