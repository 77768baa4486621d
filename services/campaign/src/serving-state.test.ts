import { describe, expect, it } from "vitest";
import { PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { FlightPhase } from "@adbudget/time";
import { servingState } from "./serving-state.js";

describe("servingState over every combination", () => {
  // 7 booleans x 3 flight phases: every combination of the inputs.
  const combos = Array.from({ length: 128 * 3 }, (_, n) => ({
    enabled: (n & 1) === 0,
    inDaypart: (n & 2) === 0,
    dayExhausted: (n & 4) !== 0,
    monthExhausted: (n & 8) !== 0,
    brandArchived: (n & 16) !== 0,
    capExhausted: (n & 32) !== 0,
    lifetimeExhausted: (n & 64) !== 0,
    flight: [FlightPhase.DURING, FlightPhase.BEFORE, FlightPhase.AFTER][n >> 7],
  }));
  it.each(combos)("%j", (inputs) => {
    const want: PauseReason[] = [];
    if (!inputs.enabled) want.push(PauseReason.PAUSED_BY_USER);
    if (!inputs.inDaypart) want.push(PauseReason.OUTSIDE_DAYPART);
    if (inputs.dayExhausted) want.push(PauseReason.DAILY_BUDGET_EXHAUSTED);
    if (inputs.monthExhausted) want.push(PauseReason.MONTHLY_BUDGET_EXHAUSTED);
    if (inputs.brandArchived) want.push(PauseReason.BRAND_ARCHIVED);
    if (inputs.flight === FlightPhase.BEFORE) want.push(PauseReason.NOT_STARTED);
    if (inputs.flight === FlightPhase.AFTER) want.push(PauseReason.ENDED);
    if (inputs.capExhausted) want.push(PauseReason.CAMPAIGN_BUDGET_EXHAUSTED);
    if (inputs.lifetimeExhausted) want.push(PauseReason.LIFETIME_BUDGET_EXHAUSTED);
    expect(servingState(inputs)).toEqual({ serving: want.length === 0, reasons: want });
  });
});
