import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { BrandService } from "@adbudget/proto/adbudget/brand/v1/brand_service_pb.js";
import {
  BudgetService,
  RecordSpendBatchRequestSchema,
  RecordSpendRequestSchema,
  SetBudgetRequestSchema,
} from "@adbudget/proto/adbudget/budget/v1/budget_service_pb.js";
import type { Principal } from "./principal.js";
import { checkQuotas, QuotaLimiter, quotaUnits, TokenBucket, type QuotaModel } from "./quotas.js";

const MODEL: QuotaModel = {
  roles: { clerk: { perSecond: 10, burst: 20 } },
  perScope: { perSecond: 15, burst: 30 },
};
const clerk = (sub: string, shops: string[]): Principal => ({
  sub,
  role: "clerk",
  scope: new Set(shops),
  expiresAt: 0,
});

describe("TokenBucket", () => {
  it.each([
    // [taken before, elapsed ms, units asked, wait ms]
    [0, 0, 20, 0],
    [20, 0, 1, 100], // empty: one unit at 10/s is 100 ms away
    [20, 100, 1, 0],
    [20, 1000, 10, 0],
    [20, 1000, 11, 100],
    [0, 0, 21, Infinity], // more than it ever holds
    [15, 10_000, 20, 0], // refilled to the burst, not past it
  ])("after %d taken and %d ms, %d units wait %d ms", (taken, elapsed, units, wait) => {
    const b = new TokenBucket({ perSecond: 10, burst: 20 }, 1000);
    b.waitFor(taken, 1000);
    b.take(taken);
    expect(b.waitFor(units, 1000 + elapsed)).toBe(wait);
  });

  it("refills nothing on a clock that is not a number", () => {
    const b = new TokenBucket({ perSecond: 10, burst: 20 }, 0);
    b.take(20);
    expect(b.waitFor(1, NaN)).toBe(100);
    expect(b.waitFor(1, 100)).toBe(0);
  });

  it("refills nothing when the clock goes back, and then counts from where it was", () => {
    const b = new TokenBucket({ perSecond: 10, burst: 20 }, 5000);
    b.take(20);
    expect(b.waitFor(1, 4000)).toBe(100);
    expect(b.waitFor(1, 5100)).toBe(0);
  });
});

describe("QuotaLimiter", () => {
  it("counts each principal on its own, and its shops together", () => {
    let now = 0;
    const limiter = new QuotaLimiter(MODEL, () => now);
    expect(limiter.take(clerk("a", ["s1"]), 20)).toBe(0);
    expect(limiter.take(clerk("a", ["s1"]), 1)).toBe(100); // its own bucket is empty
    // Another clerk of the same shop: its own bucket is full, the shop's holds 10 more.
    expect(limiter.take(clerk("b", ["s1"]), 10)).toBe(0);
    expect(limiter.take(clerk("b", ["s1"]), 1)).toBe(67); // the shop's: 1 unit at 15/s
    // A clerk of another shop is not slowed at all, nor one of both shops (a scope of its own).
    expect(limiter.take(clerk("c", ["s2"]), 20)).toBe(0);
    expect(limiter.take(clerk("d", ["s2", "s1"]), 20)).toBe(0);
    expect(limiter.take(clerk("e", ["s1", "s2"]), 20)).toBe(667); // the same scope as d's: 10 left
    now = 1000;
    expect(limiter.take(clerk("a", ["s1"]), 10)).toBe(0);
  });

  it("takes all or none: a call refused by its shop's bucket costs its own nothing", () => {
    const limiter = new QuotaLimiter(MODEL, () => 0);
    expect(limiter.take(clerk("a", ["s1"]), 20)).toBe(0);
    expect(limiter.take(clerk("b", ["s1"]), 20)).toBeGreaterThan(0); // the shop holds 10
    expect(limiter.take(clerk("b", ["s2"]), 20)).toBe(0); // b's own 20 are all still there
  });

  it("does not limit a role without a rate (the workloads) nor calls that cost nothing", () => {
    const limiter = new QuotaLimiter(MODEL, () => 0);
    const service: Principal = { sub: "service:x", role: "x-service", scope: "all", expiresAt: 0 };
    for (let i = 0; i < 1000; i++) expect(limiter.take(service, 1000)).toBe(0);
    expect(limiter.take(clerk("a", ["s1"]), 0)).toBe(0);
  });
});

describe("quotaUnits: what a call costs", () => {
  const method = (name: string) => {
    const m = BudgetService.methods.find((x) => x.name === name);
    if (m === undefined) throw new Error(name);
    return m;
  };

  it("a spend batch its events, another write one, a read nothing", () => {
    const events = Array.from({ length: 7 }, () => create(RecordSpendRequestSchema));
    expect(quotaUnits(method("RecordSpendBatch"), create(RecordSpendBatchRequestSchema, { events }))).toBe(7);
    expect(quotaUnits(method("RecordSpendBatch"), create(RecordSpendBatchRequestSchema))).toBe(1);
    expect(quotaUnits(method("SetBudget"), create(SetBudgetRequestSchema))).toBe(1);
    const read = method("GetBudget");
    expect(quotaUnits(read, create(read.input))).toBe(0);
  });

  it("every quota_units of the services names a repeated field; rates must be positive and finite", () => {
    expect(checkQuotas(MODEL, [BrandService, BudgetService])).toEqual([]);
    expect(checkQuotas({ roles: { a: { perSecond: 0, burst: 1 }, b: { perSecond: 1, burst: NaN } } }, [])).toEqual([
      "the quota of a: perSecond and burst must be positive finite numbers",
      "the quota of b: perSecond and burst must be positive finite numbers",
    ]);
  });
});
