import { describe, expect, it } from "vitest";
import { capDaysVerdict } from "./cap-verdict.ts";

/** The cap verdict per campaign day: it fails what a total over the run let pass. */
describe("capDaysVerdict", () => {
  const day1 = Date.UTC(2030, 0, 1, 23, 0);
  const day2 = Date.UTC(2030, 0, 2, 0, 5);
  const spend = (at: number, amount: bigint) => ({ occurredAtMs: at, amount });
  const stop = (sourceId: string, day: string) => ({ sourceId, changedAtShifted: 0, day });

  it("passes one stop on each day that reached the cap and none on a day that did not", () => {
    const v = capDaysVerdict({
      cap: 100n,
      zone: "UTC",
      spend: [spend(day1, 60n), spend(day1, 50n), spend(day2, 30n)],
      stops: [stop("nats:a", "2030-01-01")],
    });
    expect(v.ok, v.problems.join("; ")).toBe(true);
  });

  it("fails two stops on one day and none on another, which a total of 2 stops over the run let pass", () => {
    const v = capDaysVerdict({
      cap: 100n,
      zone: "UTC",
      spend: [spend(day1, 110n), spend(day2, 100n)],
      stops: [stop("nats:a", "2030-01-01"), stop("nats:b", "2030-01-01")],
    });
    expect(v.ok).toBe(false);
    expect(v.problems).toHaveLength(2);
  });

  it("fails a stop on a day below the cap, a stop that names no cap event, and a run that never reached the cap", () => {
    expect(
      capDaysVerdict({
        cap: 100n,
        zone: "UTC",
        spend: [spend(day1, 110n), spend(day2, 10n)],
        stops: [stop("nats:a", "2030-01-01"), stop("nats:b", "2030-01-02")],
      }).ok,
    ).toBe(false);
    expect(
      capDaysVerdict({
        cap: 100n,
        zone: "UTC",
        spend: [spend(day1, 110n)],
        stops: [{ sourceId: "nats:?", changedAtShifted: day1, day: undefined }],
      }).ok,
    ).toBe(false);
    expect(capDaysVerdict({ cap: 100n, zone: "UTC", spend: [spend(day1, 10n)], stops: [] }).ok).toBe(false);
  });

  it("takes the day in the brand's zone", () => {
    // 23:00Z on Jan 1 is Jan 2 in Tokyo.
    const v = capDaysVerdict({
      cap: 100n,
      zone: "Asia/Tokyo",
      spend: [spend(day1, 100n)],
      stops: [stop("nats:a", "2030-01-02")],
    });
    expect(v.ok, v.problems.join("; ")).toBe(true);
  });
});
