import { expect, test } from "vitest";
import { EnvReader } from "./config.js";
import { MAX_CLOCK_OFFSET_MS, readClockOffset, shiftedNow } from "./now.js";

test.each([
  [undefined, 0],
  ["", 0],
  ["0", 0],
  ["90000", 90_000],
  ["-3600000", -3_600_000],
  [String(MAX_CLOCK_OFFSET_MS), MAX_CLOCK_OFFSET_MS],
])("CLOCK_OFFSET_MS=%j reads as %d", (raw, want) => {
  const r = new EnvReader({ CLOCK_OFFSET_MS: raw });
  expect(readClockOffset(r)).toBe(want);
  expect(r.problems).toEqual([]);
});

test.each(["1.5", "soon", "1e3", String(MAX_CLOCK_OFFSET_MS + 1), String(-MAX_CLOCK_OFFSET_MS - 1)])(
  "CLOCK_OFFSET_MS=%j is refused, named",
  (raw) => {
    const r = new EnvReader({ CLOCK_OFFSET_MS: raw });
    readClockOffset(r);
    expect(r.problems.join("\n")).toContain("CLOCK_OFFSET_MS");
  },
);

test("shiftedNow shifts the wall clock by exactly the offset; 0 is the wall clock itself", () => {
  expect(shiftedNow(0)).toBe(Date.now);
  const shifted = shiftedNow(86_400_000);
  const before = Date.now();
  const t = shifted();
  const after = Date.now();
  expect(t).toBeGreaterThanOrEqual(before + 86_400_000);
  expect(t).toBeLessThanOrEqual(after + 86_400_000);
});
