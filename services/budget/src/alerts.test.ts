import { Code, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { BudgetService } from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BudgetEventCause } from "@adbudget/proto/adbudget/budget/v1/events_pb.js";
import {
  type BudgetHarness,
  campaignId,
  eventually,
  newBrand,
  rejection,
  startBudgetHarness,
  USD,
} from "@adbudget/testing";

let h: BudgetHarness;
beforeAll(async () => {
  h = await startBudgetHarness();
});
afterAll(async () => {
  await h?.close();
});

const brand = () => newBrand(h.brands, "Alerts");

const alertsOf = async (brandId: string) => {
  await h.drained();
  return (await h.alerts())
    .filter((a) => a.event.brandId === brandId)
    .map((a) => [a.event.period!.kind, a.event.percent, a.event.spentMicros, a.event.thresholdMicros]);
};

describe("budget alert thresholds", () => {
  it("publishes each threshold once per period, in the spend's transaction, and streams it to watchers", async () => {
    const id = await brand();
    const set = await h.budget.setBudget({
      brandId: id,
      dailyLimitMicros: 10n * USD,
      alerts: { percents: [100, 50, 80] },
    });
    expect(set.budget!.alertPercents).toEqual([50, 80, 100]);

    const abort = new AbortController();
    const heard: number[] = [];
    let subscribed = false;
    const watching = (async () => {
      try {
        for await (const m of h.budget.watchBudgetAlerts({ brandId: id }, { signal: abort.signal })) {
          if (m.subscribed) subscribed = true;
          else heard.push(m.alert!.percent);
        }
      } catch {
        // aborted at the end
      }
    })();
    await eventually(async () => subscribed, 5000, "the stream says it is subscribed");

    const campaign = campaignId();
    const spend = (n: number, amount: bigint) =>
      h.budget.recordSpend({ eventId: `a${n}`, brandId: id, campaignId: campaign, amountMicros: amount });
    await spend(1, 4n * USD); // 40%: nothing
    expect(await alertsOf(id)).toEqual([]);
    await spend(2, 4n * USD); // 80%: 50 and 80 at once
    await spend(3, 1n * USD); // 90%: nothing new
    await spend(2, 4n * USD); // a retry: a duplicate, nothing new
    const exhausting = await spend(4, 2n * USD); // 110%: 100, and the exhaustion
    expect(exhausting.status!.day!.exhausted).toBe(true);
    expect(await alertsOf(id)).toEqual([
      [1, 50, 8n * USD, 5n * USD],
      [1, 80, 8n * USD, 8n * USD],
      [1, 100, 11n * USD, 10n * USD],
    ]);
    await eventually(async () => heard.length === 3, 5000, "the watcher heard the three alerts");
    expect(heard).toEqual([50, 80, 100]);
    abort.abort();
    await watching;
  });

  it("a lowered limit or a new threshold already passed is published once, by SetBudget; absent alerts keep them", async () => {
    const id = await brand();
    await h.budget.setBudget({ brandId: id, dailyLimitMicros: 100n * USD });
    await h.budget.recordSpend({ eventId: "s", brandId: id, campaignId: campaignId(), amountMicros: 60n * USD });
    await h.budget.setBudget({ brandId: id, dailyLimitMicros: 100n * USD, alerts: { percents: [50, 80] } });
    expect((await alertsOf(id)).map((a) => a[1])).toEqual([50]);
    const kept = await h.budget.setBudget({ brandId: id, dailyLimitMicros: 70n * USD }); // 60 of 70 is past 80%
    expect(kept.budget!.alertPercents).toEqual([50, 80]);
    // The outbox publishes after the commit: read the stream once it has drained.
    await h.drained();
    const alerts = (await h.alerts()).filter((a) => a.event.brandId === id);
    expect(alerts.map((a) => [a.event.percent, a.event.cause])).toEqual([
      [50, BudgetEventCause.LIMIT_CHANGE],
      [80, BudgetEventCause.LIMIT_CHANGE],
    ]);
    // Setting it again publishes nothing more; an empty list clears them.
    await h.budget.setBudget({ brandId: id, dailyLimitMicros: 70n * USD });
    expect(await alertsOf(id)).toHaveLength(2);
    expect(
      (await h.budget.setBudget({ brandId: id, dailyLimitMicros: 70n * USD, alerts: { percents: [] } })).budget!
        .alertPercents,
    ).toEqual([]);
  });

  it("bad thresholds are INVALID_ARGUMENT with the field path; another brand's alerts are refused", async () => {
    const id = await brand();
    for (const percents of [[0], [101], [50, 50], Array.from({ length: 11 }, (_, i) => i + 1)]) {
      const err = await rejection(h.budget.setBudget({ brandId: id, dailyLimitMicros: USD, alerts: { percents } }));
      expect(err.code).toBe(Code.InvalidArgument);
      expect(err.message).toContain("alerts.percents");
    }
    const unknown = await rejection(
      (async () => {
        for await (const _ of h.budget.watchBudgetAlerts({ brandId: "01900000-0000-7000-8000-0000000000ab" })) break;
      })(),
    );
    expect(unknown.code).toBe(Code.NotFound);
    const other = await brand();
    const viewer = createClient(
      BudgetService,
      createGrpcTransport({
        baseUrl: h.budgetApp.server.url,
        interceptors: await h.auth.as({ sub: "user:viewer", role: "viewer", brands: [id] }),
      }),
    );
    const call = viewer.watchBudgetAlerts({ brandId: other });
    const denied = await rejection(
      (async () => {
        for await (const _ of call) break;
      })(),
    );
    expect(denied.code).toBe(Code.PermissionDenied);
  });
});
