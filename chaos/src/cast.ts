import type { Interceptor } from "@connectrpc/connect";
import { formatClock } from "@adbudget/time";
import type { DayOfWeek } from "@adbudget/proto/google/type/dayofweek_pb.js";
import type { ChaosSystem } from "./system.ts";

/** The brands and campaigns the faults play out on. */
export interface Cast {
  /** The ad servers' credentials (ad-server of the load brands and the crossing brand). */
  adServer: Interceptor[];
  /** Where the load spends: a campaign of each load brand. */
  loadTargets: { brandId: string; campaignId: string }[];
  /** A brand whose daily limit one spend crosses, right before a campaign replica dies. */
  crossing: { brandId: string; campaignId: string };
  /** The load campaign with a cap of its own (one of `loadTargets`), and the cap. */
  capped: { brandId: string; campaignId: string; cap: bigint };
  /**
   * A brand whose daily limit one spend crosses while NATS is down: its exhausted event must wait
   * in the outbox (the proof that the outage held a publish), and its campaign stop after NATS is back.
   */
  outage: { brandId: string; campaignId: string };
  /** A campaign whose daypart window ends at `clockBoundary`, while the clocks worker is down. */
  clockwork: string;
  clockBoundary: number;
  /** A campaign whose window ends at midnight, and one paused by a spent day that midnight resets. */
  midnightDaypart: string;
  reset: string;
  /** Every campaign of the cast. */
  campaignIds: string[];
}

const EVERY_DAY = [1, 2, 3, 4, 5, 6, 7] as DayOfWeek[];
/** The cap of Load 1's campaign: below what the load spends on it, above a few events. */
const CAPPED_LOAD_LIMIT = 1_500_000n;
const MINUTE = 60_000;
/** A daily UTC window ending at the whole minute `end` (an instant), starting 30 minutes before. */
const windowEnding = (end: number) => {
  const minute = Math.floor((end % 86_400_000) / MINUTE);
  return {
    daysOfWeek: EVERY_DAY,
    start: formatClock((minute + 1440 - 30) % 1440),
    end: minute === 0 ? "24:00" : formatClock(minute),
  };
};

/** What the cast is made through: the system's admin clients, keys and event prefix. */
export type CastSystem = Pick<ChaosSystem, "brands" | "budget" | "campaigns" | "auth" | "prefix">;

export async function setUp(system: CastSystem, midnight: number): Promise<Cast> {
  const brand = async (name: string, daily: bigint) => {
    const { brand: b } = await system.brands.createBrand({ name: `${name} ${system.prefix}`, timeZone: "UTC" });
    await system.budget.setBudget({ brandId: b!.id, dailyLimitMicros: daily });
    return b!.id;
  };
  const campaign = async (
    brandId: string,
    name: string,
    windows?: ReturnType<typeof windowEnding>[],
    dailyLimitMicros?: bigint,
  ) =>
    (
      await system.campaigns.createCampaign({
        brandId,
        name,
        schedule: windows && { timeZone: "UTC", windows },
        dailyLimitMicros,
      })
    ).campaign!.id;

  const loadTargets = [];
  for (let i = 0; i < 6; i++) {
    // Half the load brands run out during the load (their exhausted events are counted), half never.
    const brandId = await brand(`Load ${i}`, i % 2 === 0 ? 3_000_000n : 1_000_000_000_000n);
    // Load 1's campaign has a cap of its own, which the load reaches (amounts are 1,000-10,000
    // micros): the budget service's cap event and the campaign's own pause go through the faults too.
    loadTargets.push({
      brandId,
      campaignId: await campaign(brandId, `Load ${i}`, undefined, i === 1 ? CAPPED_LOAD_LIMIT : undefined),
    });
  }
  const crossingBrand = await brand("Crossing", 1_000_000n);
  const crossing = { brandId: crossingBrand, campaignId: await campaign(crossingBrand, "Crossing") };
  const outageBrand = await brand("NATS outage", 1_000_000n);
  const outage = { brandId: outageBrand, campaignId: await campaign(outageBrand, "Exhausted while NATS is down") };
  const cappedTarget = loadTargets[1];
  if (cappedTarget === undefined) throw new Error("no capped load campaign");
  // Daypart boundaries are whole minutes: the last one before midnight.
  const clockBoundary = midnight - 60_000;
  const clockworkBrand = await brand("Clockwork", 1_000_000_000_000n);
  const clockwork = await campaign(clockworkBrand, "Ends a minute before midnight", [windowEnding(clockBoundary)]);
  const midnightDaypart = await campaign(clockworkBrand, "Ends at midnight", [windowEnding(midnight)]);
  const resetBrand = await brand("Reset", 1n);
  const reset = await campaign(resetBrand, "Paused until midnight");
  // The reset brand's day is spent at once: its campaign waits for the midnight reset.
  await system.budget.recordSpend({ eventId: "spent", brandId: resetBrand, campaignId: reset, amountMicros: 5n });
  const adServer = await system.auth.as({
    sub: "chaos:ad-server",
    role: "ad-server",
    brands: [...loadTargets.map((t) => t.brandId), crossingBrand],
  });
  return {
    adServer,
    loadTargets,
    crossing,
    capped: { ...cappedTarget, cap: CAPPED_LOAD_LIMIT },
    outage,
    clockwork,
    clockBoundary,
    midnightDaypart,
    reset,
    campaignIds: [
      ...loadTargets.map((t) => t.campaignId),
      crossing.campaignId,
      outage.campaignId,
      clockwork,
      midnightDaypart,
      reset,
    ],
  };
}
