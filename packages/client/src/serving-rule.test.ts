import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CampaignSchema, PauseReason } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import { earliestMidnight, servingAt, servingEntry } from "./serving-rule.js";

const T = Date.UTC(2026, 2, 29, 1, 0); // a DST morning in Europe: the rule is zone-free
const R = PauseReason;

interface Shape {
  schedule?: boolean;
  end?: { year: number; month: number; day: number };
}
const campaign = (reasons: PauseReason[], next?: number, shape: Shape = {}) =>
  create(CampaignSchema, {
    pauseReasons: reasons,
    serving: reasons.length === 0,
    ...(next === undefined ? {} : { nextChangeTime: timestampFromMs(next) }),
    ...(shape.schedule === true
      ? { schedule: { timeZone: "Europe/London", windows: [{ daysOfWeek: [1], start: "09:00", end: "17:00" }] } }
      : {}),
    ...(shape.end === undefined ? {} : { endDate: shape.end }),
  });

/** 2026-03-31 ends: its flight ends at the first instant of April 1st somewhere, at the earliest 2026-03-31T10:00Z. */
const END = { year: 2026, month: 3, day: 31 };
const EARLIEST_END = Date.UTC(2026, 3, 1) - 14 * 3_600_000;

describe("servingEntry / servingAt", () => {
  // [name, reasons, next_change_time, shape, now, serving]: from docs/sdk.md, not from the code.
  const table: [string, PauseReason[], number | undefined, Shape, number, boolean][] = [
    ["no reasons, no flip", [], undefined, {}, T, true],
    ["paused by user, no flip", [R.PAUSED_BY_USER], undefined, {}, T, false],
    ["serving, before its next change", [], T, { schedule: true }, T - 1, true],
    ["serving, at its next change (a window closes)", [], T, { schedule: true }, T, false],
    ["serving, at its next change (its flight ends)", [], EARLIEST_END + 1, { end: END }, EARLIEST_END + 1, false],
    ["serving, long after the instant (the write is late)", [], T, { schedule: true }, T + 3_600_000, false],
    ["outside the window, before it opens", [R.OUTSIDE_DAYPART], T, { schedule: true }, T - 1, false],
    ["outside the window, at the instant it opens", [R.OUTSIDE_DAYPART], T, { schedule: true }, T, true],
    [
      "outside, the flight ends long after: the instant is the window's",
      [R.OUTSIDE_DAYPART],
      EARLIEST_END - 1,
      { schedule: true, end: END },
      EARLIEST_END,
      true,
    ],
    [
      "outside, the instant may be the flight's end: wait for the write",
      [R.OUTSIDE_DAYPART],
      EARLIEST_END,
      { schedule: true, end: END },
      EARLIEST_END,
      false,
    ],
    ["not started, no schedule: the instant is the flight's start", [R.NOT_STARTED], T, {}, T, true],
    ["not started, with a schedule: the instant may be a window's", [R.NOT_STARTED], T, { schedule: true }, T, false],
    [
      "outside and exhausted: the window opening does not serve",
      [R.OUTSIDE_DAYPART, R.DAILY_BUDGET_EXHAUSTED],
      T,
      { schedule: true },
      T,
      false,
    ],
    [
      "outside and not started: one reason stays",
      [R.NOT_STARTED, R.OUTSIDE_DAYPART],
      T,
      { schedule: true },
      T + 1,
      false,
    ],
    ["ended: nothing starts it", [R.ENDED], T, { schedule: true }, T, false],
  ];
  it.each(table)("%s", (_name, reasons, next, shape, now, serving) => {
    expect(servingAt(servingEntry(campaign(reasons, next, shape)), now)).toBe(serving);
  });

  it("rolls the end date over a month and a year end", () => {
    expect(earliestMidnight({ year: 2026, month: 12, day: 32 })).toBe(Date.UTC(2027, 0, 1) - 14 * 3_600_000);
    const lastDay = { year: 2026, month: 12, day: 31 };
    const at = Date.UTC(2027, 0, 1) - 14 * 3_600_000;
    expect(servingAt(servingEntry(campaign([R.OUTSIDE_DAYPART], at - 1, { schedule: true, end: lastDay })), at)).toBe(
      true,
    );
    expect(servingAt(servingEntry(campaign([R.OUTSIDE_DAYPART], at, { schedule: true, end: lastDay })), at)).toBe(
      false,
    );
  });

  it("never serves earlier than the server would, for any reasons, flight and instants", () => {
    const reason = fc.constantFrom(
      ...Object.values(R).filter((v): v is PauseReason => typeof v === "number" && v !== R.UNSPECIFIED),
    );
    fc.assert(
      fc.property(
        fc.uniqueArray(reason, { maxLength: 4 }),
        fc.option(fc.integer({ min: -5, max: 5 })),
        fc.integer({ min: -5, max: 5 }),
        fc.boolean(),
        fc.option(fc.integer({ min: -3, max: 3 })),
        (reasons, nextOffset, nowOffset, schedule, endOffsetDays) => {
          const next = nextOffset === null ? undefined : T + nextOffset;
          const now = T + nowOffset;
          const endDay = new Date(T + (endOffsetDays ?? 0) * 86_400_000);
          const end =
            endOffsetDays === null
              ? undefined
              : { year: endDay.getUTCFullYear(), month: endDay.getUTCMonth() + 1, day: endDay.getUTCDate() };
          const serving = servingAt(servingEntry(campaign(reasons, next, { schedule, end })), now);
          // Oracle: before the instant, the server's reasons; from it on, serving only if exactly
          // one boundary-kind reason could have been lifted, and never with two reasons.
          if (next === undefined || now < next) expect(serving).toBe(reasons.length === 0);
          else if (reasons.length !== 1) expect(serving).toBe(false);
          else if (!(reasons[0] === R.OUTSIDE_DAYPART || reasons[0] === R.NOT_STARTED)) expect(serving).toBe(false);
        },
      ),
    );
  });
});
