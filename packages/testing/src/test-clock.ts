/**
 * The instant tests take as "now" before they shift the services' clock: the real clock, or
 * TEST_NOW (an ISO instant) when the calendar check (scripts/test-calendar.sh) replays a suite
 * as if it ran at a chosen wall-clock moment (a month end, a DST day).
 */
export function testBaseNow(): number {
  const at = process.env.TEST_NOW;
  if (at === undefined || at === "") return Date.now();
  const ms = Date.parse(at);
  if (!Number.isFinite(ms)) throw new Error(`TEST_NOW=${JSON.stringify(at)} is not an ISO instant`);
  return ms;
}

/** The zone of brands whose zone a test does not care about: TEST_ZONE, default UTC. */
export function testZone(): string {
  return process.env.TEST_ZONE || "UTC";
}

/**
 * A CLOCK_OFFSET_MS that moves "now" to the first instant at or after the test's base now
 * (testBaseNow) whose local time in `zone` is `hour`:00 (plus `afterMs`), so a test that must
 * not meet a local midnight (or must meet one at a chosen moment) behaves the same at any real
 * hour. Within 48 hours of the base; DST-safe because it searches real instants, minute by
 * minute, rather than adding hours.
 */
export function offsetToLocalTime(zone: string, hour: number, afterMs = 0): number {
  const base = testBaseNow();
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    hour: "numeric",
    minute: "numeric",
  });
  const start = Math.ceil(base / 60_000) * 60_000;
  for (let t = start; t < base + 48 * 3_600_000; t += 60_000) {
    const parts = fmt.formatToParts(t);
    const h = Number(parts.find((p) => p.type === "hour")!.value);
    const m = Number(parts.find((p) => p.type === "minute")!.value);
    if (h === hour && m === 0) return t + afterMs - Date.now();
  }
  throw new Error(`no ${hour}:00 in ${zone} within 48 hours`);
}

/**
 * The clock of suites that must not meet a midnight: the next local noon of the test zone after
 * the base now. A whole suite takes minutes, so no local day or month ends inside it, at any
 * real hour; the calendar check moves that noon onto the 1st of a month and onto DST days (so
 * these suites run on those days; crossing into them is workflows/src/calendar-boundary.test.ts).
 */
export function quietClockOffset(): number {
  return offsetToLocalTime(testZone(), 12);
}
