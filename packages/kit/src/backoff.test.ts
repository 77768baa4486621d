import { expect, test } from "vitest";
import { Backoff } from "./backoff.js";

test("doubles from the minimum to the maximum, and starts over after a success", () => {
  const b = new Backoff(100, 1000);
  expect([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 400, 800, 1000, 1000]);
  expect(b.reset()).toBe(true);
  expect(b.reset()).toBe(false);
  expect(b.next()).toBe(100);
});

test("defaults to 100 ms .. 5 s", () => {
  const b = new Backoff();
  const waits = Array.from({ length: 8 }, () => b.next());
  expect(waits).toEqual([100, 200, 400, 800, 1600, 3200, 5000, 5000]);
});
