import { describe, expect, it } from "vitest";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { loadContractDescriptors, ReflectionIndex } from "./reflection.js";

describe("ReflectionIndex", () => {
  const index = new ReflectionIndex([BrandService], [], loadContractDescriptors());

  it("knows the served service, its methods, messages and their dependencies", () => {
    expect(index.fileOfSymbol("adbudget.brand.v1.BrandService")).toBe("adbudget/brand/v1/brand_service.proto");
    expect(index.fileOfSymbol("adbudget.brand.v1.BrandService.CreateBrand")).toBe(
      "adbudget/brand/v1/brand_service.proto",
    );
    expect(index.fileOfSymbol(".adbudget.brand.v1.Brand")).toBe("adbudget/brand/v1/brand.proto");
    const files = index.fileWithDependencies("adbudget/brand/v1/brand_service.proto")!.map((f) => f.name);
    expect(files[0]).toBe("adbudget/brand/v1/brand_service.proto");
    expect(files).toEqual(
      expect.arrayContaining([
        "adbudget/brand/v1/brand.proto",
        "google/protobuf/timestamp.proto",
        "buf/validate/validate.proto",
      ]),
    );
  });

  it("serves the documented descriptors (with comments) when the contract set is available", () => {
    const file = index.fileWithDependencies("adbudget/brand/v1/brand_service.proto")![0];
    expect(file.sourceCodeInfo?.location.some((l) => l.leadingComments.includes("Creates a brand"))).toBe(true);
  });

  it("does not know services it does not serve", () => {
    expect(index.fileOfSymbol("adbudget.budget.v1.BudgetService")).toBeUndefined();
    expect(index.fileWithDependencies("adbudget/budget/v1/budget_service.proto")).toBeUndefined();
    const both = new ReflectionIndex([BrandService, BudgetService]);
    expect(both.fileOfSymbol("adbudget.budget.v1.BudgetService")).toBe("adbudget/budget/v1/budget_service.proto");
  });

  it("indexes extensions by their extendee", () => {
    expect(index.fileOfExtension("google.protobuf.FieldOptions", 1159)).toBe("buf/validate/validate.proto");
    expect(index.extensionNumbers("google.protobuf.FieldOptions")).toContain(1159);
    expect(index.extensionNumbers("no.such.Type")).toBeUndefined();
  });
});
