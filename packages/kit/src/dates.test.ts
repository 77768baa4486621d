import { expect, test } from "vitest";
import { dateViolation } from "./dates.js";

test.each([
  [{ year: 2024, month: 2, day: 29 }],
  [{ year: 1970, month: 1, day: 1 }],
  [{ year: 9999, month: 12, day: 31 }],
  [{ year: 2000, month: 2, day: 29 }],
])("%j is a date", (d) => {
  expect(dateViolation(d, "day")).toBeUndefined();
});

test.each([
  [undefined, "day", "is required"],
  [{ year: 1969, month: 12, day: 31 }, "day.year", "must be from 1970 to 9999"],
  [{ year: 10_000, month: 1, day: 1 }, "day.year", "must be from 1970 to 9999"],
  [{ year: 2024, month: 0, day: 1 }, "day.month", "must be from 1 to 12"],
  [{ year: 2024, month: 13, day: 1 }, "day.month", "must be from 1 to 12"],
  [{ year: 2023, month: 2, day: 29 }, "day.day", "must be from 1 to 28"],
  [{ year: 1900 + 200, month: 2, day: 29 }, "day.day", "must be from 1 to 28"],
  [{ year: 2024, month: 4, day: 31 }, "day.day", "must be from 1 to 30"],
  [{ year: 2024, month: 1, day: 0 }, "day.day", "must be from 1 to 31"],
  [{ year: 2024, month: 1, day: 1.5 }, "day.day", "must be from 1 to 31"],
])("%j is refused on %s: %s", (d, field, description) => {
  expect(dateViolation(d, "day")).toEqual({ field, description });
});
