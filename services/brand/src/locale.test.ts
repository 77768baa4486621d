import { describe, expect, it } from "vitest";
import { canonicalTimeZone, isCurrency } from "./locale.js";

describe("canonicalTimeZone", () => {
  it.each([
    ["UTC", "UTC"],
    ["utc", "UTC"],
    ["America/New_York", "America/New_York"],
    ["america/new_york", "America/New_York"],
    ["Asia/Kathmandu", "Asia/Kathmandu"],
    ["Asia/Kolkata", "Asia/Kolkata"],
    ["Pacific/Chatham", "Pacific/Chatham"],
    ["Australia/Lord_Howe", "Australia/Lord_Howe"],
    ["America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"],
  ])("%s -> %s", (input, want) => {
    expect(canonicalTimeZone(input)).toBe(want);
  });

  it.each(["Mars/Olympus", "", "+05:00", "America/Atlantis", "Not a zone"])("refuses %j", (input) => {
    expect(canonicalTimeZone(input)).toBeUndefined();
  });
});

describe("isCurrency", () => {
  it.each(["USD", "EUR", "JPY", "CHF", "INR"])("accepts %s", (c) => expect(isCurrency(c)).toBe(true));
  it.each(["usd", "XYZ", "US", "usd1", ""])("refuses %j", (c) => expect(isCurrency(c)).toBe(false));
});
