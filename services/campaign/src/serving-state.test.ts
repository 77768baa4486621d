import { describe, expect, it } from "vitest";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { servingState } from "./serving-state.js";

describe("servingState over every combination", () => {
  const combos = Array.from({ length: 32 }, (_, n) => ({
    enabled: (n & 1) === 0,
    inDaypart: (n & 2) === 0,
    dayExhausted: (n & 4) !== 0,
    monthExhausted: (n & 8) !== 0,
    brandArchived: (n & 16) !== 0,
  }));
  it.each(combos)("%j", (inputs) => {
    const want: PauseReason[] = [];
    if (!inputs.enabled) want.push(PauseReason.PAUSED_BY_USER);
    if (!inputs.inDaypart) want.push(PauseReason.OUTSIDE_DAYPART);
    if (inputs.dayExhausted) want.push(PauseReason.DAILY_BUDGET_EXHAUSTED);
    if (inputs.monthExhausted) want.push(PauseReason.MONTHLY_BUDGET_EXHAUSTED);
    if (inputs.brandArchived) want.push(PauseReason.BRAND_ARCHIVED);
    expect(servingState(inputs)).toEqual({ serving: want.length === 0, reasons: want });
  });
});
