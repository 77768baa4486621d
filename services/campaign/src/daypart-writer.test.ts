import { describe, expect, it } from "vitest";
import { FlightPhase } from "@adbudget/time";
import type { CampaignRow } from "./campaign-rows.js";
import { daypartDecision } from "./daypart-writer.js";

const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m));
const campaign = (over: Partial<CampaignRow>): CampaignRow => ({
  id: "c",
  brandId: "b",
  name: "n",
  enabled: true,
  schedule: { timeZone: "UTC", windows: [] },
  inDaypart: true,
  daypartAsOf: at(10),
  nextChangeAt: null,
  serving: true,
  reasons: [],
  version: 1n,
  scheduleVersion: 3n,
  createdAt: at(0),
  updatedAt: at(0),
  deletedAt: null,
  startDate: null,
  endDate: null,
  flight: FlightPhase.DURING,
  dailyLimitMicros: null,
  capFlags: new Map(),
  throttle: 1,
  throttleSeq: 0n,
  throttleUntil: null,
  lifetimeLimitMicros: null,
  lifetimeFlag: { exhausted: false, seq: 0n },
  ...over,
});

describe("daypartDecision", () => {
  it.each<
    [string, Partial<CampaignRow>, { inWindow: boolean; asOf: Date; scheduleVersion: bigint }, string, FlightPhase?]
  >([
    ["a flip at a newer instant", {}, { inWindow: false, asOf: at(11), scheduleVersion: 3n }, "change"],
    ["the same state at a newer instant", {}, { inWindow: true, asOf: at(11), scheduleVersion: 3n }, "confirm"],
    ["the applied call again", {}, { inWindow: true, asOf: at(10), scheduleVersion: 3n }, "ignore"],
    ["an older instant", {}, { inWindow: false, asOf: at(9), scheduleVersion: 3n }, "ignore"],
    ["an older schedule version", {}, { inWindow: false, asOf: at(11), scheduleVersion: 2n }, "ignore"],
    ["no version named (old clocks)", {}, { inWindow: false, asOf: at(11), scheduleVersion: 0n }, "change"],
    [
      "a campaign without a schedule",
      { schedule: null },
      { inWindow: false, asOf: at(11), scheduleVersion: 3n },
      "ignore",
    ],
    [
      "a first state (no as-of yet)",
      { daypartAsOf: null },
      { inWindow: true, asOf: at(1), scheduleVersion: 3n },
      "confirm",
    ],
    // Flight dates: the phase at the call's instant is computed by the writer and passed in.
    [
      "the flight ends, no schedule",
      { schedule: null, endDate: "2025-12-31" },
      { inWindow: true, asOf: at(11), scheduleVersion: 0n },
      "change",
      FlightPhase.AFTER,
    ],
    [
      "the flight still runs, no schedule",
      { schedule: null, endDate: "2026-01-31" },
      { inWindow: true, asOf: at(11), scheduleVersion: 0n },
      "confirm",
      FlightPhase.DURING,
    ],
    [
      "the flight starts inside the window",
      { flight: FlightPhase.BEFORE, startDate: "2026-01-01" },
      { inWindow: true, asOf: at(11), scheduleVersion: 3n },
      "change",
      FlightPhase.DURING,
    ],
    [
      "the flight ends with an older schedule version",
      { endDate: "2025-12-31" },
      { inWindow: true, asOf: at(11), scheduleVersion: 2n },
      "ignore",
      FlightPhase.AFTER,
    ],
    [
      "a flight call older than the state applied",
      { endDate: "2025-12-31" },
      { inWindow: true, asOf: at(9), scheduleVersion: 3n },
      "ignore",
      FlightPhase.AFTER,
    ],
    [
      "no schedule: the call's window is ignored",
      { schedule: null, endDate: "2026-01-31" },
      { inWindow: false, asOf: at(11), scheduleVersion: 0n },
      "confirm",
      FlightPhase.DURING,
    ],
  ])("%s", (_name, over, req, expected, flight) => {
    expect(daypartDecision(campaign(over), req, flight)).toBe(expected);
  });
});
