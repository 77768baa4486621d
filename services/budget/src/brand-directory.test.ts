import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { createLogger } from "@adbudget/kit";
import { BrandSchema } from "@adbudget/proto/adbudget/brand/v1/brand_pb.js";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import { codeOf } from "@adbudget/testing";
import { BrandDirectory, type BrandDirectoryOptions } from "./brand-directory.js";

/** The fake clock's start: lru-cache takes a start time of 0 for "no TTL". */
const T0 = 1_000_000;
const A = "01900000-0000-7000-8000-00000000000a";
const B = "01900000-0000-7000-8000-00000000000b";
const C = "01900000-0000-7000-8000-00000000000c";

/**
 * A BrandDirectory over a BrandService served in memory (a real Connect client and router):
 * `zones` holds the brands that exist, `down` makes every call UNAVAILABLE, `calls` counts them,
 * and `hold` parks calls until released, so concurrent lookups can be seen sharing one.
 */
function setup(options: Omit<BrandDirectoryOptions, "now"> = {}) {
  const world = {
    t: T0,
    zones: new Map<string, string>(),
    down: false,
    calls: 0,
    held: [] as (() => void)[],
    hold: false,
  };
  const transport = createRouterTransport(({ service }) => {
    service(BrandService, {
      async getBrand({ id }) {
        world.calls++;
        if (world.hold) await new Promise<void>((resolve) => world.held.push(resolve));
        if (world.down) throw new ConnectError("down", Code.Unavailable);
        const zone = world.zones.get(id);
        if (zone === undefined) throw new ConnectError("no such brand", Code.NotFound);
        return { brand: create(BrandSchema, { id, timeZone: zone, currencyCode: "USD" }) };
      },
    });
  });
  const directory = new BrandDirectory(createClient(BrandService, transport), createLogger("test", "silent"), {
    ttlMs: 5000,
    ...options,
    now: () => world.t,
  });
  return { world, directory };
}

describe("BrandDirectory", () => {
  it("answers a known brand from memory within its TTL, and concurrent lookups share one call", async () => {
    const { world, directory } = setup();
    world.zones.set(A, "UTC");
    world.hold = true;
    const both = Promise.all([directory.get(A), directory.get(A)]);
    await expect.poll(() => world.held.length).toBe(1);
    world.hold = false;
    world.held.forEach((release) => release());
    expect((await both).map((b) => b.timeZone)).toEqual(["UTC", "UTC"]);
    world.t = T0 + 5000;
    expect(directory.peek(A)?.timeZone).toBe("UTC");
    expect((await directory.get(A)).timeZone).toBe("UTC");
    expect(world.calls).toBe(1);
  });

  it("past its TTL answers at once and re-reads in the background; past three TTLs waits for the re-read", async () => {
    const { world, directory } = setup();
    world.zones.set(A, "UTC");
    await directory.get(A);
    world.zones.set(A, "Asia/Tokyo");
    world.t = T0 + 5001;
    expect(directory.peek(A)?.timeZone).toBe("UTC");
    await expect.poll(() => directory.peek(A)?.timeZone).toBe("Asia/Tokyo");
    expect(world.calls).toBe(2);
    world.zones.set(A, "Europe/Paris");
    world.t = T0 + 5001 + 15_000;
    expect(directory.peek(A)).toBeUndefined();
    expect((await directory.get(A)).timeZone).toBe("Europe/Paris");
    expect(world.calls).toBe(3);
  });

  it("remembers an unknown brand for the negative TTL, then asks again", async () => {
    const { world, directory } = setup({ negativeTtlMs: 1000 });
    expect(await codeOf(directory.get(B))).toBe("NotFound");
    world.t = T0 + 1000;
    expect(await codeOf(directory.get(B))).toBe("NotFound");
    expect(world.calls).toBe(1);
    world.zones.set(B, "UTC");
    world.t = T0 + 1001;
    expect((await directory.get(B)).timeZone).toBe("UTC");
    expect(world.calls).toBe(2);
  });

  it("uses a stale entry while BrandService is down, and is UNAVAILABLE without one", async () => {
    const { world, directory } = setup();
    world.zones.set(A, "UTC");
    await directory.get(A);
    world.down = true;
    world.t = T0 + 60_000;
    expect((await directory.get(A)).timeZone).toBe("UTC");
    expect(world.calls).toBe(2);
    expect(await codeOf(directory.get(C))).toBe("Unavailable");
    expect(await codeOf(directory.fresh(A))).toBe("Unavailable");
  });

  it("fresh reads through and refreshes the entry", async () => {
    const { world, directory } = setup();
    world.zones.set(A, "UTC");
    await directory.get(A);
    world.zones.set(A, "Asia/Tokyo");
    expect((await directory.fresh(A)).timeZone).toBe("Asia/Tokyo");
    expect(directory.peek(A)?.timeZone).toBe("Asia/Tokyo");
  });

  it("keeps at most maxEntries brands, forgetting the least recently used", async () => {
    const { world, directory } = setup({ maxEntries: 2 });
    for (const id of [A, B, C]) world.zones.set(id, "UTC");
    await directory.get(A);
    await directory.get(B);
    await directory.get(A);
    await directory.get(C);
    expect([directory.peek(A), directory.peek(B), directory.peek(C)].map((b) => b !== undefined)).toEqual([
      true,
      false,
      true,
    ]);
    expect(world.calls).toBe(3);
  });

  it("with a TTL of 0 reads on every lookup", async () => {
    const { world, directory } = setup({ ttlMs: 0 });
    world.zones.set(A, "UTC");
    await directory.get(A);
    await directory.get(A);
    expect(directory.peek(A)).toBeUndefined();
    expect(world.calls).toBe(2);
  });

  it("a fresh() read stored while a lookup's read runs does not fail the lookup", async () => {
    const { world, directory } = setup();
    world.zones.set(A, "UTC");
    world.hold = true;
    const lookup = directory.get(A);
    const fresh = directory.fresh(A);
    await expect.poll(() => world.held.length).toBe(2);
    world.hold = false;
    world.held[1]?.(); // fresh's read answers first and stores the brand
    await fresh;
    world.held[0]?.();
    expect((await lookup).timeZone).toBe("UTC");
  });

  it("a brand once unknown is UNAVAILABLE, not NOT_FOUND, while BrandService is down", async () => {
    const { world, directory } = setup({ negativeTtlMs: 1000 });
    expect(await codeOf(directory.get(B))).toBe("NotFound");
    world.t = T0 + 1001;
    world.down = true;
    expect(await codeOf(directory.get(B))).toBe("Unavailable");
    expect(world.calls).toBe(2);
  });
});
