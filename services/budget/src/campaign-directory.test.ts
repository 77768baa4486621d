import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, createRouterTransport } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { CampaignSchema } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { CampaignService } from "@adbudget/proto/adbudget/campaign/v1/campaign_service_pb.js";
import { codeOf } from "@adbudget/testing";
import { CampaignDirectory } from "./campaign-directory.js";

/** The fake clock's start: lru-cache takes a start time of 0 for "no TTL". */
const T0 = 1_000_000;
const BRAND = "01900000-0000-7000-8000-0000000000b1";
const [X, Y, Z] = [
  "01900000-0000-7000-8000-0000000000c1",
  "01900000-0000-7000-8000-0000000000c2",
  "01900000-0000-7000-8000-0000000000c3",
];

/** A CampaignDirectory over a CampaignService served in memory: `owners` are the campaigns that exist. */
function setup(maxEntries?: number) {
  const world = { t: T0, owners: new Map<string, string>(), down: false, calls: 0 };
  const transport = createRouterTransport(({ service }) => {
    service(CampaignService, {
      async getCampaign({ id }) {
        world.calls++;
        if (world.down) throw new ConnectError("down", Code.Unavailable);
        const brandId = world.owners.get(id);
        if (brandId === undefined) throw new ConnectError("no such campaign", Code.NotFound);
        return { campaign: create(CampaignSchema, { id, brandId }) };
      },
    });
  });
  const directory = new CampaignDirectory(createClient(CampaignService, transport), {
    negativeTtlMs: 1000,
    maxEntries,
    now: () => world.t,
  });
  return { world, directory };
}

describe("CampaignDirectory", () => {
  it("keeps a known campaign's brand (it never changes), and concurrent lookups share one call", async () => {
    const { world, directory } = setup();
    world.owners.set(X, BRAND);
    expect(await Promise.all([directory.brandOf(X), directory.brandOf(X)])).toEqual([BRAND, BRAND]);
    world.t = T0 + 86_400_000;
    world.down = true;
    expect(await directory.brandOf(X)).toBe(BRAND);
    expect(directory.peek(X)).toBe(BRAND);
    expect(world.calls).toBe(1);
  });

  it("remembers an unknown campaign for the negative TTL, then asks again", async () => {
    const { world, directory } = setup();
    expect(await codeOf(directory.brandOf(Y))).toBe("NotFound");
    world.t = T0 + 1000;
    expect(await codeOf(directory.brandOf(Y))).toBe("NotFound");
    expect(directory.peek(Y)).toBeUndefined();
    expect(world.calls).toBe(1);
    world.owners.set(Y, BRAND);
    world.t = T0 + 1001;
    expect(await directory.brandOf(Y)).toBe(BRAND);
  });

  it("is UNAVAILABLE when CampaignService cannot answer, and remembers nothing of it", async () => {
    const { world, directory } = setup();
    world.owners.set(Z, BRAND);
    world.down = true;
    expect(await codeOf(directory.brandOf(Z))).toBe("Unavailable");
    world.down = false;
    expect(await directory.brandOf(Z)).toBe(BRAND);
  });

  it("keeps at most maxEntries campaigns", async () => {
    const { world, directory } = setup(2);
    for (const id of [X, Y, Z]) world.owners.set(id, BRAND);
    for (const id of [X, Y, Z]) await directory.brandOf(id);
    expect([X, Y, Z].map((id) => directory.peek(id))).toEqual([undefined, BRAND, BRAND]);
  });
});
