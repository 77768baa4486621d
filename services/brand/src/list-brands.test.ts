import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { type BrandHarness, rejection, startBrandHarness, violatedFields } from "@adbudget/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";

/**
 * ListBrands' `name_prefix`: a newcomer looking for one brand among hundreds (the walkthrough
 * makes one per run) filters by name instead of paging through all of them. The filter is a
 * plain prefix, not a pattern, and a page token belongs to the filter it was issued for.
 */
let h: BrandHarness;
beforeAll(async () => {
  h = await startBrandHarness();
});
afterAll(async () => {
  await h?.close();
});

/** Every brand name the filter lists, page by page (`pageSize` each), in the order answered. */
async function allNames(req: { namePrefix: string; showArchived?: boolean }, pageSize = 1000): Promise<string[]> {
  const names: string[] = [];
  let pageToken = "";
  do {
    const page = await h.client.listBrands({ ...req, pageSize, pageToken });
    names.push(...page.brands.map((b) => b.name));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return names;
}

describe("ListBrands name_prefix", () => {
  it("lists only the names that start with the prefix, exactly, oldest first", async () => {
    for (const name of ["Prefix Co 1", "Other Co", "prefix co lower", "Prefix Co 2", "Prefixed"])
      await h.client.createBrand({ name });
    expect(await allNames({ namePrefix: "Prefix Co " })).toEqual(["Prefix Co 1", "Prefix Co 2"]);
    expect(await allNames({ namePrefix: "Prefix" })).toEqual(["Prefix Co 1", "Prefix Co 2", "Prefixed"]);
    expect(await allNames({ namePrefix: "Prefix Co 1" })).toEqual(["Prefix Co 1"]);
    expect(await allNames({ namePrefix: "Prefix Co 3" })).toEqual([]);
  });

  it("treats %, _ and \\ as plain characters, not as LIKE wildcards", async () => {
    for (const name of ["50%_off spring", "50 and more off", "5000 club", "back\\slash", "backXslash"])
      await h.client.createBrand({ name });
    expect(await allNames({ namePrefix: "50%_" })).toEqual(["50%_off spring"]);
    expect(await allNames({ namePrefix: "50%" })).toEqual(["50%_off spring"]);
    expect(await allNames({ namePrefix: "50_" })).toEqual([]);
    expect(await allNames({ namePrefix: "back\\" })).toEqual(["back\\slash"]);
  });

  it("pages through the matching brands only, and binds each token to its prefix", async () => {
    const matching = Array.from({ length: 5 }, (_, i) => `Paging match ${i}`);
    for (const [i, name] of matching.entries()) {
      await h.client.createBrand({ name });
      await h.client.createBrand({ name: `Paging other ${i}` });
    }
    expect(await allNames({ namePrefix: "Paging match " }, 2)).toEqual(matching);

    const first = await h.client.listBrands({ namePrefix: "Paging match ", pageSize: 2 });
    expect(first.nextPageToken).not.toBe("");
    for (const namePrefix of ["Paging other ", ""]) {
      const err = await rejection(h.client.listBrands({ namePrefix, pageSize: 2, pageToken: first.nextPageToken }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toEqual(["page_token"]);
    }
  });

  it("keeps the other filters: archived brands only with show_archived", async () => {
    await h.client.createBrand({ name: "Archive prefix live" });
    const { brand } = await h.client.createBrand({ name: "Archive prefix gone" });
    await h.client.archiveBrand({ id: brand!.id });
    expect(await allNames({ namePrefix: "Archive prefix " })).toEqual(["Archive prefix live"]);
    expect(await allNames({ namePrefix: "Archive prefix ", showArchived: true })).toEqual([
      "Archive prefix live",
      "Archive prefix gone",
    ]);
  });

  it("shows a caller scoped to brands only its own brands among the matches", async () => {
    const { brand: mine } = await h.client.createBrand({ name: "Scoped prefix mine" });
    await h.client.createBrand({ name: "Scoped prefix theirs" });
    const viewer = createClient(
      BrandService,
      createGrpcTransport({
        baseUrl: h.app.server.url,
        interceptors: await h.auth.as({ sub: "test:viewer", role: "viewer", brands: [mine!.id] }),
      }),
    );
    const { brands } = await viewer.listBrands({ namePrefix: "Scoped prefix " });
    expect(brands.map((b) => b.name)).toEqual(["Scoped prefix mine"]);
  });

  it.each([
    ["longer than any name (201 characters)", "x".repeat(201)],
    ["with a NUL character", "Prefix\u0000"],
  ])("refuses a prefix %s with INVALID_ARGUMENT on name_prefix", async (_what, namePrefix) => {
    const err = await rejection(h.client.listBrands({ namePrefix }));
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["name_prefix"]);
  });
});
