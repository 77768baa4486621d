import { Code } from "@connectrpc/connect";
import { type BrandHarness, rejection, startBrandHarness, violatedFields } from "@adbudget/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BadRequestSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";

let h: BrandHarness;
beforeAll(async () => {
  h = await startBrandHarness();
});
afterAll(async () => {
  await h?.close();
});

describe("BrandService over HTTP/2", () => {
  it("creates a brand with defaults and gets it back", async () => {
    const { brand } = await h.client.createBrand({ name: "Defaults Inc" });
    expect(brand?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(brand).toMatchObject({ name: "Defaults Inc", timeZone: "UTC", currencyCode: "USD", archived: false });
    expect(brand?.etag).not.toBe("");
    const got = await h.client.getBrand({ id: brand!.id });
    expect(got.brand).toEqual(brand);
  });

  it("canonicalizes the time zone", async () => {
    const { brand } = await h.client.createBrand({
      name: "Zone Co",
      timeZone: "america/new_york",
      currencyCode: "EUR",
    });
    expect(brand).toMatchObject({ timeZone: "America/New_York", currencyCode: "EUR" });
  });

  it("refuses a duplicate name with ALREADY_EXISTS", async () => {
    await h.client.createBrand({ name: "Twin" });
    const err = await rejection(h.client.createBrand({ name: "Twin" }));
    expect(err.code).toBe(Code.AlreadyExists);
  });

  it("answers NOT_FOUND for an unknown id", async () => {
    const id = "01900000-0000-7000-8000-000000000000";
    expect((await rejection(h.client.getBrand({ id }))).code).toBe(Code.NotFound);
    expect((await rejection(h.client.archiveBrand({ id }))).code).toBe(Code.NotFound);
    const update = h.client.updateBrand({ brand: { id, name: "x" }, updateMask: { paths: ["name"] } });
    expect((await rejection(update)).code).toBe(Code.NotFound);
  });

  it("lists across pages in a stable order without gaps or repeats", async () => {
    const names = Array.from({ length: 7 }, (_, i) => `Paged ${i}`);
    for (const name of names) await h.client.createBrand({ name });
    const seen: string[] = [];
    let pageToken = "";
    let pages = 0;
    do {
      const res = await h.client.listBrands({ pageSize: 3, pageToken });
      expect(res.brands.length).toBeLessThanOrEqual(3);
      seen.push(...res.brands.map((b) => b.name));
      pageToken = res.nextPageToken;
      pages++;
    } while (pageToken !== "");
    const paged = seen.filter((n) => n.startsWith("Paged "));
    expect(paged).toEqual(names);
    expect(new Set(seen).size).toBe(seen.length);
    expect(pages).toBeGreaterThanOrEqual(3);
  });

  it("rejects a page token replayed with another filter", async () => {
    for (const name of ["Filter A", "Filter B"]) await h.client.createBrand({ name });
    const first = await h.client.listBrands({ pageSize: 1 });
    const err = await rejection(
      h.client.listBrands({ pageSize: 1, pageToken: first.nextPageToken, showArchived: true }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["page_token"]);
    const garbage = await rejection(h.client.listBrands({ pageToken: "not-a-token" }));
    expect(garbage.code).toBe(Code.InvalidArgument);
  });

  it("updates masked fields with the current etag and refuses a stale one with ABORTED", async () => {
    const { brand } = await h.client.createBrand({ name: "Before" });
    const updated = await h.client.updateBrand({
      brand: { id: brand!.id, etag: brand!.etag, name: "After", timeZone: "Asia/Kathmandu", currencyCode: "JPY" },
      updateMask: { paths: ["name", "time_zone"] },
    });
    expect(updated.brand).toMatchObject({ name: "After", timeZone: "Asia/Kathmandu", currencyCode: "USD" });
    expect(updated.brand?.etag).not.toBe(brand!.etag);

    const stale = await rejection(
      h.client.updateBrand({
        brand: { id: brand!.id, etag: brand!.etag, name: "Lost" },
        updateMask: { paths: ["name"] },
      }),
    );
    expect(stale.code).toBe(Code.Aborted);
    expect((await h.client.getBrand({ id: brand!.id })).brand?.name).toBe("After");

    // No etag: an unconditional update.
    const blind = await h.client.updateBrand({
      brand: { id: brand!.id, currencyCode: "EUR" },
      updateMask: { paths: ["currency_code"] },
    });
    expect(blind.brand?.currencyCode).toBe("EUR");
  });

  it("refuses an update to a name another brand has", async () => {
    await h.client.createBrand({ name: "Taken" });
    const { brand } = await h.client.createBrand({ name: "Free" });
    const err = await rejection(
      h.client.updateBrand({ brand: { id: brand!.id, name: "Taken" }, updateMask: { paths: ["name"] } }),
    );
    expect(err.code).toBe(Code.AlreadyExists);
  });

  it("archives idempotently, hides archived brands from the default list, and freezes them", async () => {
    const { brand } = await h.client.createBrand({ name: "Retiring" });
    const first = await h.client.archiveBrand({ id: brand!.id });
    expect(first.brand?.archived).toBe(true);
    expect(first.brand?.archiveTime).toBeDefined();
    const again = await h.client.archiveBrand({ id: brand!.id });
    expect(again.brand).toEqual(first.brand);

    const active = await h.client.listBrands({ pageSize: 1000 });
    expect(active.brands.map((b) => b.id)).not.toContain(brand!.id);
    const all = await h.client.listBrands({ pageSize: 1000, showArchived: true });
    expect(all.brands.map((b) => b.id)).toContain(brand!.id);

    const err = await rejection(
      h.client.updateBrand({ brand: { id: brand!.id, name: "Zombie" }, updateMask: { paths: ["name"] } }),
    );
    expect(err.code).toBe(Code.FailedPrecondition);
  });
});

describe("validation", () => {
  const cases: [string, () => Promise<unknown>, string][] = [
    ["empty name", () => h.client.createBrand({ name: "" }), "name"],
    ["name with surrounding blanks", () => h.client.createBrand({ name: " padded " }), "name"],
    [
      "unknown zone Mars/Olympus",
      () => h.client.createBrand({ name: "Mars Co", timeZone: "Mars/Olympus" }),
      "time_zone",
    ],
    ["zone of the wrong shape", () => h.client.createBrand({ name: "Offset Co", timeZone: "+05:00" }), "time_zone"],
    ["abbreviation EST", () => h.client.createBrand({ name: "EST Co", timeZone: "EST" }), "time_zone"],
    ["POSIX-style MST7MDT", () => h.client.createBrand({ name: "MST Co", timeZone: "MST7MDT" }), "time_zone"],
    ["fixed offset Etc/GMT+5", () => h.client.createBrand({ name: "Etc Co", timeZone: "Etc/GMT+5" }), "time_zone"],
    ["legacy name US/Eastern", () => h.client.createBrand({ name: "US Co", timeZone: "US/Eastern" }), "time_zone"],
    ["currency usd1", () => h.client.createBrand({ name: "Lower Co", currencyCode: "usd1" }), "currency_code"],
    ["currency not in ISO 4217", () => h.client.createBrand({ name: "Fake Co", currencyCode: "XYZ" }), "currency_code"],
    ["page_size 5000", () => h.client.listBrands({ pageSize: 5000 }), "page_size"],
    ["malformed id", () => h.client.getBrand({ id: "nope" }), "id"],
    [
      "update without a mask",
      () => h.client.updateBrand({ brand: { id: "01900000-0000-7000-8000-000000000000" } }),
      "update_mask",
    ],
    [
      "update of an output-only field",
      () =>
        h.client.updateBrand({
          brand: { id: "01900000-0000-7000-8000-000000000000" },
          updateMask: { paths: ["archived"] },
        }),
      "update_mask",
    ],
    [
      "update to an unknown zone",
      () =>
        h.client.updateBrand({
          brand: { id: "01900000-0000-7000-8000-000000000000", timeZone: "Mars/Olympus" },
          updateMask: { paths: ["time_zone"] },
        }),
      "brand.time_zone",
    ],
  ];

  it.each(cases)("%s -> INVALID_ARGUMENT naming the field", async (_name, call, field) => {
    const err = await rejection(call());
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toContain(field);
    expect(err.rawMessage).toContain(field);
  });

  it.each([
    ["EST", ""],
    ["+05:00", ""],
    ["US/Eastern", ' (did you mean "America/New_York"?)'],
  ])("refuses the zone %j in words that say what to send instead, not with a pattern", async (zone, hint) => {
    const err = await rejection(h.client.createBrand({ name: `Zone ${zone}`, timeZone: zone }));
    expect(err.findDetails(BadRequestSchema)[0].fieldViolations).toEqual([
      expect.objectContaining({
        field: "time_zone",
        description:
          `${JSON.stringify(zone)} is not a region time zone${hint}: use an IANA Area/Location zone such as "America/New_York" or "Europe/Paris", or "UTC" ` +
          "(abbreviations, fixed offsets like +05:00 or Etc/GMT+5 and legacy names like US/Eastern are refused)",
      }),
    ]);
  });

  it("a brand stored with a zone from before (EST) keeps working; only setting such a zone anew is refused", async () => {
    const { brand } = await h.client.createBrand({ name: "Legacy EST" });
    await h.app.pool.query("update brands set time_zone = 'EST' where id = $1", [brand!.id]);
    expect((await h.client.getBrand({ id: brand!.id })).brand!.timeZone).toBe("EST");
    const renamed = await h.client.updateBrand({
      brand: { id: brand!.id, name: "Legacy EST 2" },
      updateMask: { paths: ["name"] },
    });
    // Sent back as it was read (time_zone in the mask, unchanged): not a new zone.
    const resent = await h.client.updateBrand({
      brand: { ...renamed.brand!, name: "Legacy EST 3" },
      updateMask: { paths: ["name", "time_zone"] },
    });
    expect(resent.brand).toMatchObject({ name: "Legacy EST 3", timeZone: "EST" });
    const err = await rejection(
      h.client.updateBrand({ brand: { id: brand!.id, timeZone: "MST" }, updateMask: { paths: ["time_zone"] } }),
    );
    expect(err.code).toBe(Code.InvalidArgument);
    expect(violatedFields(err)).toEqual(["brand.time_zone"]);
    // Moving it to a region zone is a change like any other.
    const moved = await h.client.updateBrand({
      brand: { id: brand!.id, timeZone: "America/New_York" },
      updateMask: { paths: ["time_zone"] },
    });
    expect(moved.brand!.timeZone).toBe("America/New_York");
  });

  it("stores nothing for a rejected request", async () => {
    await rejection(h.client.createBrand({ name: "Ghost", timeZone: "Mars/Olympus" }));
    const all = await h.client.listBrands({ pageSize: 1000, showArchived: true });
    expect(all.brands.map((b) => b.name)).not.toContain("Ghost");
  });
});
