import { describe, expect, it } from "vitest";
import { isCurrency } from "./locale.js";

describe("isCurrency", () => {
  it.each(["USD", "EUR", "JPY", "CHF", "INR"])("accepts %s", (c) => expect(isCurrency(c)).toBe(true));
  it.each(["usd", "XYZ", "US", "usd1", ""])("refuses %j", (c) => expect(isCurrency(c)).toBe(false));
});
