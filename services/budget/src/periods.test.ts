import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { formatDate } from "@adbudget/time";
import { PeriodKind } from "@adbudget/proto/adbudget/common/v1/period_pb.js";
import { type BudgetHarness, campaignId, startBudgetHarness, testZone } from "@adbudget/testing";

let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

async function brandIn(zone: string): Promise<string> {
  const { brand } = await h.brands.createBrand({ name: `Periods ${zone} ${Math.random()}`, timeZone: zone });
  return brand!.id;
}

let n = 0;
async function spendAt(brandId: string, iso: string, amount = 1_000_000n) {
  const res = await h.budget.recordSpend({
    eventId: `p-${n++}`,
    brandId,
    campaignId: campaignId(),
    amountMicros: amount,
    occurredAt: timestampFromMs(Date.parse(iso)),
  });
  return { day: formatDate(res.event!.day!), month: formatDate(res.event!.month!) };
}

describe("a spend counts toward the day and month containing occurred_at in the brand's zone", () => {
  it.each([
    // America/New_York: 23:59 and 00:01 local, on a normal day.
    ["America/New_York", "2026-10-15T03:59:00Z", "2026-10-14", "2026-10-01"],
    ["America/New_York", "2026-10-15T04:01:00Z", "2026-10-15", "2026-10-01"],
    // Spring forward (2026-03-08, 02:00 -> 03:00): the day has 23 hours.
    ["America/New_York", "2026-03-08T04:59:00Z", "2026-03-07", "2026-03-01"],
    ["America/New_York", "2026-03-08T05:01:00Z", "2026-03-08", "2026-03-01"],
    ["America/New_York", "2026-03-09T03:59:00Z", "2026-03-08", "2026-03-01"],
    ["America/New_York", "2026-03-09T04:01:00Z", "2026-03-09", "2026-03-01"],
    // Fall back (2026-11-01, 02:00 -> 01:00): the day has 25 hours, 01:30 happens twice.
    ["America/New_York", "2026-11-01T05:30:00Z", "2026-11-01", "2026-11-01"],
    ["America/New_York", "2026-11-01T06:30:00Z", "2026-11-01", "2026-11-01"],
    ["America/New_York", "2026-11-02T04:59:00Z", "2026-11-01", "2026-11-01"],
    ["America/New_York", "2026-11-02T05:01:00Z", "2026-11-02", "2026-11-01"],
    // Asia/Kathmandu is +05:45.
    ["Asia/Kathmandu", "2026-05-31T18:14:00Z", "2026-05-31", "2026-05-01"],
    ["Asia/Kathmandu", "2026-05-31T18:16:00Z", "2026-06-01", "2026-06-01"],
    // Month end and a leap day.
    ["UTC", "2024-02-29T23:59:59Z", "2024-02-29", "2024-02-01"],
    ["UTC", "2024-03-01T00:00:00Z", "2024-03-01", "2024-03-01"],
    ["UTC", "2025-12-31T23:59:59Z", "2025-12-31", "2025-12-01"],
    ["Pacific/Chatham", "2024-02-28T10:16:00Z", "2024-02-29", "2024-02-01"],
  ])("%s at %s -> day %s, month %s", async (zone, at, day, month) => {
    expect(await spendAt(await brandIn(zone), at)).toEqual({ day, month });
  });

  it("totals each local day separately across a DST change", async () => {
    const brand = await brandIn("America/New_York");
    await spendAt(brand, "2026-11-01T04:30:00Z", 1n); // 00:30 EDT, Nov 1
    await spendAt(brand, "2026-11-01T05:30:00Z", 2n); // 01:30 EDT
    await spendAt(brand, "2026-11-01T06:30:00Z", 4n); // 01:30 EST
    await spendAt(brand, "2026-11-02T04:30:00Z", 8n); // 23:30 EST, still Nov 1
    await spendAt(brand, "2026-11-02T05:30:00Z", 16n); // 00:30 EST, Nov 2
    const { periods } = await h.budget.listBudgetPeriods({ brandId: brand, kind: PeriodKind.DAY });
    expect(periods.map((p) => [formatDate(p.period!.start!), p.spentMicros, p.eventCount])).toEqual([
      ["2026-11-02", 16n, 1n],
      ["2026-11-01", 15n, 4n],
    ]);
    const months = await h.budget.listBudgetPeriods({ brandId: brand, kind: PeriodKind.MONTH });
    expect(months.periods.map((p) => p.spentMicros)).toEqual([31n]);
  });

  it("an event from yesterday counts toward yesterday and does not exhaust today", async () => {
    const brand = await brandIn(testZone());
    await h.budget.setBudget({ brandId: brand, dailyLimitMicros: 100n });
    const yesterday = h.now() - 86_400_000;
    const res = await h.budget.recordSpend({
      eventId: `yesterday-${brand}`,
      brandId: brand,
      campaignId: campaignId(),
      amountMicros: 150n,
      occurredAt: timestampFromMs(yesterday),
    });
    expect(formatDate(res.event!.day!)).not.toBe(formatDate(res.status!.day!.periodStart!));
    expect(res.status?.day).toMatchObject({ spentMicros: 0n, exhausted: false, remainingMicros: 100n });
    const { status } = await h.budget.getBudgetStatus({ brandId: brand });
    expect(status?.day?.exhausted).toBe(false);
    const { periods } = await h.budget.listBudgetPeriods({ brandId: brand, kind: PeriodKind.DAY });
    // Yesterday ended before this budget existed: no limit was ever in force for it (a limit
    // never applies to a period that has ended; ended-periods.test.ts has one that was).
    const old = periods.find((p) => formatDate(p.period!.start!) === formatDate(res.event!.day!));
    expect(old).toMatchObject({ spentMicros: 150n, exhausted: false, overspendMicros: 0n });
    expect(old?.limitMicros).toBeUndefined();
  });
});

describe("listing", () => {
  it("pages spend events newest first and filters by campaign and time", async () => {
    const brand = await brandIn("UTC");
    const [c1, c2] = [campaignId(), campaignId()];
    for (let i = 0; i < 7; i++) {
      await h.budget.recordSpend({
        eventId: `list-${brand}-${i}`,
        brandId: brand,
        campaignId: i % 2 === 0 ? c1 : c2,
        amountMicros: BigInt(i + 1),
        occurredAt: timestampFromMs(Date.parse("2026-06-01T00:00:00Z") + i * 60_000),
      });
    }
    const ids: string[] = [];
    let pageToken = "";
    do {
      const page = await h.budget.listSpendEvents({ brandId: brand, pageSize: 3, pageToken });
      ids.push(...page.events.map((e) => e.eventId));
      pageToken = page.nextPageToken;
    } while (pageToken);
    expect(ids).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `list-${brand}-${i}`));
    const ofC2 = await h.budget.listSpendEvents({ brandId: brand, campaignId: c2 });
    expect(ofC2.events.map((e) => e.amountMicros)).toEqual([6n, 4n, 2n]);
    const window = await h.budget.listSpendEvents({
      brandId: brand,
      startTime: timestampFromMs(Date.parse("2026-06-01T00:02:00Z")),
      endTime: timestampFromMs(Date.parse("2026-06-01T00:04:00Z")),
    });
    expect(window.events.map((e) => e.amountMicros)).toEqual([4n, 3n]);
  });
});
