import { create, toBinary } from "@bufbuild/protobuf";
import { AnySchema } from "@bufbuild/protobuf/wkt";
import type { ConnectError } from "@connectrpc/connect";
import { canEncodeInJson, InvalidArgumentError } from "@adbudget/kit";
import { StatusSchema, type Status } from "@adbudget/proto/google/rpc/status_pb.js";

/*
 * The errors of single events inside a RecordSpendBatch answer: each event's error is carried in
 * its result as a google.rpc.Status, as the error would be carried by a call of its own.
 */

/** An event's own field violations carry its path in the batch (`events[3].amount_micros`). */
export function prefixed(err: unknown, path: string): unknown {
  if (!(err instanceof InvalidArgumentError) || err.violations.every((v) => v.field.startsWith(path))) return err;
  const violations = err.violations.map((v) => (v.field.startsWith(path) ? v : { ...v, field: path + v.field }));
  return new InvalidArgumentError(violations);
}

/**
 * A ConnectError as a google.rpc.Status, its details included (field violations, retry info):
 * each packed in an Any, as the error would carry them alone. A detail whose type the JSON
 * codec does not know (ANSWER_REGISTRY) is left out: it would make the whole batch answer
 * unencodable over Connect JSON, every other event's result with it.
 */
export function rpcStatus(error: ConnectError): Status {
  const details = error.details.flatMap((d) => {
    const typeName = "desc" in d ? d.desc.typeName : d.type;
    if (!canEncodeInJson(typeName)) return [];
    const value = "desc" in d ? toBinary(d.desc, create(d.desc, d.value)) : d.value;
    return [create(AnySchema, { typeUrl: `type.googleapis.com/${typeName}`, value })];
  });
  return create(StatusSchema, { code: error.code, message: error.rawMessage, details });
}
