import { create, createFileRegistry, setExtension, type DescService } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  MethodOptionsSchema,
  file_google_protobuf_empty,
  type MethodOptions,
} from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { file_adbudget_auth_v1_auth, rule, RuleSchema } from "@adbudget/proto/adbudget/auth/v1/auth_pb.js";
import { Health } from "@adbudget/proto/grpc/health/v1/health_pb.js";
import { ServerReflection } from "@adbudget/proto/grpc/reflection/v1/reflection_pb.js";
import { allowedRoles, checkMethodRules, mayCall } from "./method-rules.js";

/** Method options carrying a rule of `roles` (the extension kept in the options' unknown fields, as compiled). */
function ruleOptions(roles: string[]) {
  const options = create(MethodOptionsSchema);
  setExtension(options, rule, create(RuleSchema, { roles }));
  return options;
}

/** A service of a made-up shop: Get for viewers and clerks, Sell for a role nobody has, Touch without a rule. */
function shopService(): DescService {
  const method = (name: string, options?: MethodOptions) => ({
    name,
    inputType: ".google.protobuf.Empty",
    outputType: ".google.protobuf.Empty",
    options,
  });
  const registry = createFileRegistry(
    create(FileDescriptorProtoSchema, {
      name: "shop/v1/shop.proto",
      package: "shop.v1",
      syntax: "proto3",
      dependency: ["google/protobuf/empty.proto", file_adbudget_auth_v1_auth.proto.name],
      service: [
        {
          name: "ShopService",
          method: [
            method("Get", ruleOptions(["viewer", "clerk"])),
            method("Sell", ruleOptions(["root"])),
            method("Touch"),
          ],
        },
      ],
    }),
    (file) => [file_google_protobuf_empty, file_adbudget_auth_v1_auth].find((f) => f.proto.name === file),
  );
  const service = registry.getService("shop.v1.ShopService");
  if (service === undefined) throw new Error("no ShopService in the test registry");
  return service;
}

describe("method rules", () => {
  const shop = shopService();
  const [get, sell, touch] = shop.methods;

  it("reads the roles from the method's option, and none from a method without one", () => {
    expect([...allowedRoles(get)]).toEqual(["viewer", "clerk"]);
    expect([...allowedRoles(touch)]).toEqual([]);
  });

  it("lets a role the rule names call, and no one call a method without a rule (default deny)", () => {
    expect(mayCall("clerk", shop, get)).toBe(true);
    expect(mayCall("admin", shop, get)).toBe(false);
    expect(mayCall("admin", shop, touch)).toBe(false);
  });

  it("lets any role call reflection", () => {
    expect(mayCall("anyone", ServerReflection, ServerReflection.methods[0])).toBe(true);
  });

  it("names the unknown roles and the methods without a rule, and skips health and reflection", () => {
    expect(checkMethodRules([shop, Health, ServerReflection], ["viewer", "clerk"])).toEqual({
      unknownRoles: ['shop.v1.ShopService/Sell: "root"'],
      withoutRule: ["shop.v1.ShopService/Touch"],
    });
    expect(sell).toBeDefined();
  });
});
