import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ACCESS } from "@adbudget/topology";
import { newBrand, quietClockOffset, startSystemInProcess, type SystemHarness } from "@adbudget/testing";
import { RetryInfoSchema } from "@adbudget/proto/google/rpc/error_details_pb.js";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";

/**
 * Quotas per caller (issue 22, item 7), against the real services with QUOTAS on. Every service
 * runs on one clock that stands still (ServiceAppOptions.now), so no bucket refills during the
 * test: what passes and what is refused is exact, whatever the machine's speed. The whole setup
 * stays within the admin's burst of 40 writes (a person's quota).
 */
const AD_SERVER = ACCESS.quotas?.roles["ad-server"];
const PER_BRAND = ACCESS.quotas?.perScope;
const BATCH = 1000;
const at = Date.now() + quietClockOffset();

let h: SystemHarness;
beforeAll(async () => {
  h = await startSystemInProcess({ env: { QUOTAS: "on" }, now: () => at });
});
afterAll(async () => {
  await h?.close();
});

/** A budget client as an ad server `sub` of `brandId`. */
async function adServer(sub: string, brandId: string): Promise<Client<typeof BudgetService>> {
  return createClient(
    BudgetService,
    h.transport(h.budgetApp.server.url, await h.auth.as({ sub, role: "ad-server", brands: [brandId] })),
  );
}

/** A brand with a budget far above the test's spend, and one campaign to spend on. */
async function brandWithCampaign(label: string): Promise<{ brandId: string; campaignId: string }> {
  const brandId = await newBrand(h.brands, label);
  await h.budget.setBudget({ brandId, dailyLimitMicros: 1_000_000_000n });
  const { campaign } = await h.campaigns.createCampaign({ brandId, name: label });
  if (campaign === undefined) throw new Error("no campaign");
  return { brandId, campaignId: campaign.id };
}

let n = 0;
/** Sends `batches` batches of BATCH 1-micro events: how many passed, and the first refusal. */
async function spend(
  client: Client<typeof BudgetService>,
  { brandId, campaignId }: { brandId: string; campaignId: string },
  batches: number,
) {
  let passed = 0;
  let refused: ConnectError | undefined;
  for (let b = 0; b < batches; b++) {
    const events = Array.from({ length: BATCH }, () => ({
      eventId: `q-${n++}`,
      brandId,
      campaignId,
      amountMicros: 1n,
    }));
    try {
      const { results } = await client.recordSpendBatch({ events });
      expect(results.filter((r) => r.error !== undefined)).toEqual([]);
      passed++;
    } catch (err) {
      refused ??= ConnectError.from(err);
    }
  }
  return { passed, refused };
}

const spent = async (brandId: string) => (await h.budget.getBudgetStatus({ brandId })).status?.day?.spentMicros;

describe("quotas per caller and per brand", () => {
  it("slows a noisy ad server at its quota, with RetryInfo, while another brand's is not slowed", async () => {
    expect(AD_SERVER).toEqual({ perSecond: 5000, burst: 10_000 });
    const [a, b] = [await brandWithCampaign("Noisy"), await brandWithCampaign("Quiet")];
    const noisy = await spend(await adServer("ads:noisy", a.brandId), a, 12);
    // The burst is 10 batches of 1,000: the rest is refused, and says when to come back.
    expect(noisy.passed).toBe(10);
    expect(noisy.refused?.code).toBe(Code.ResourceExhausted);
    const retry = noisy.refused?.findDetails(RetryInfoSchema)[0]?.retryDelay;
    expect(retry && durationMs(retry)).toBe(200); // 1,000 events at 5,000/s
    // The other brand's ad server, at the same instant: every batch passes.
    const quiet = await spend(await adServer("ads:quiet", b.brandId), b, 10);
    expect(quiet).toEqual({ passed: 10, refused: undefined });
    // Nothing refused was stored: the ledger holds exactly what passed.
    expect(await spent(a.brandId)).toBe(10_000n);
    expect(await spent(b.brandId)).toBe(10_000n);
  });

  it("holds a brand's ad servers together to the brand's quota", async () => {
    expect(PER_BRAND).toEqual({ perSecond: 10_000, burst: 20_000 });
    const brand = await brandWithCampaign("Many ad servers");
    const { brandId } = brand;
    // Two ad servers within their own quotas take the brand's 20 batches...
    expect((await spend(await adServer("ads:one", brandId), brand, 10)).passed).toBe(10);
    expect((await spend(await adServer("ads:two", brandId), brand, 10)).passed).toBe(10);
    // ...and a third, with all of its own, is refused by the brand's.
    const third = await spend(await adServer("ads:three", brandId), brand, 1);
    expect(third.passed).toBe(0);
    expect(third.refused?.code).toBe(Code.ResourceExhausted);
    expect(await spent(brandId)).toBe(20_000n);
  });

  it("holds a person to 20 writes a second, 40 at once; reads are not counted", async () => {
    const brandId = await newBrand(h.brands, "Managed");
    const manager = createClient(
      BudgetService,
      h.transport(
        h.budgetApp.server.url,
        await h.auth.as({ sub: "alice@agency", role: "brand-manager", brands: [brandId] }),
      ),
    );
    let passed = 0;
    let refused: Code | undefined;
    for (let i = 0; i < 41; i++)
      await manager.setBudget({ brandId, dailyLimitMicros: BigInt(1_000_000 + i) }).then(
        () => passed++,
        (e: unknown) => (refused = ConnectError.from(e).code),
      );
    expect({ passed, refused }).toEqual({ passed: 40, refused: Code.ResourceExhausted });
    for (let i = 0; i < 100; i++) await manager.getBudget({ brandId });
    expect((await manager.getBudget({ brandId })).budget?.dailyLimitMicros).toBe(1_000_039n);
  });

  it("refuses a batch larger than a quota ever holds, and tells the caller to split it", async () => {
    const brandId = await newBrand(h.brands, "Huge batch");
    const client = await adServer("ads:huge", brandId);
    const events = Array.from({ length: 10_001 }, (_, i) => ({ eventId: `huge-${i}`, brandId, amountMicros: 1n }));
    const err = await client.recordSpendBatch({ events }).then(
      () => undefined,
      (e: unknown) => ConnectError.from(e),
    );
    expect(err?.code).toBe(Code.ResourceExhausted);
    expect(err?.rawMessage).toMatch(/split it/);
  });
});
