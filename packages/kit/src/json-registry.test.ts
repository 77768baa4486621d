import { create, toJson } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { file_google_rpc_error_details } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { StatusSchema } from "@adbudget/proto/google/rpc/status_pb.js";
import { ANSWER_REGISTRY, canEncodeInJson } from "./json-registry.js";

describe("ANSWER_REGISTRY", () => {
  const details = file_google_rpc_error_details.messages;

  it("covers every google.rpc error detail (BadRequest, RetryInfo, ErrorInfo, ...)", () => {
    expect(details.map((d) => d.typeName)).toEqual(
      expect.arrayContaining(["google.rpc.BadRequest", "google.rpc.RetryInfo", "google.rpc.ErrorInfo"]),
    );
    for (const d of details) expect(canEncodeInJson(d.typeName)).toBe(true);
  });

  it.each(details.map((d) => [d.typeName, d] as const))(
    "writes a google.rpc.Status holding a %s as JSON",
    (typeName, desc) => {
      const status = create(StatusSchema, { code: 3, message: "m", details: [anyPack(desc, create(desc))] });
      expect(() => toJson(StatusSchema, status)).toThrow(); // what Connect did without a registry
      expect(toJson(StatusSchema, status, { registry: ANSWER_REGISTRY })).toMatchObject({
        details: [{ "@type": `type.googleapis.com/${typeName}` }],
      });
    },
  );
});
