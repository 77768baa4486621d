import { createRegistry, type Registry } from "@bufbuild/protobuf";
import { file_google_rpc_error_details } from "@adbudget/proto/google/rpc/error_details_pb.js";

/**
 * Every message type an answer of ours may carry inside a `google.protobuf.Any`, for the JSON
 * codec: the google.rpc error details (BadRequest, RetryInfo, ErrorInfo, QuotaFailure, ... the
 * whole file), which `google.rpc.Status` carries in a RecordSpendBatch result. protobuf-es writes
 * an Any as JSON only when its type is in the registry (binary needs nothing), so without it a
 * batch answer with one event's field violations could not be encoded at all over Connect JSON
 * and the whole call failed INTERNAL, innocent events' results with it. Status is the only Any
 * holder in our protos (grpc reflection and health have none); a proto that adds one must add
 * the types it may hold here. Clients that decode our JSON (tests, tools) use it too.
 */
export const ANSWER_REGISTRY: Registry = createRegistry(file_google_rpc_error_details);

/** True when the JSON codec can write an Any holding `typeName` (see ANSWER_REGISTRY). */
export function canEncodeInJson(typeName: string): boolean {
  return ANSWER_REGISTRY.getMessage(typeName) !== undefined;
}
