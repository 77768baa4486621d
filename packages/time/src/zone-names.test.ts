import { describe, expect, it } from "vitest";
import { checkRegionZone } from "./zone-names.js";

describe("checkRegionZone: IANA region zones and UTC, nothing else", () => {
  it.each([
    ["UTC", "UTC"],
    ["utc", "UTC"],
    ["America/New_York", "America/New_York"],
    ["america/new_york", "America/New_York"],
    ["Asia/Kathmandu", "Asia/Kathmandu"], // kept as written (ICU would say Asia/Katmandu)
    ["Asia/Kolkata", "Asia/Kolkata"],
    ["Pacific/Chatham", "Pacific/Chatham"],
    ["Australia/Lord_Howe", "Australia/Lord_Howe"],
    ["America/Argentina/Buenos_Aires", "America/Argentina/Buenos_Aires"],
    ["America/Indiana/Indianapolis", "America/Indiana/Indianapolis"],
    ["Antarctica/Troll", "Antarctica/Troll"],
    ["Arctic/Longyearbyen", "Arctic/Longyearbyen"],
    ["Atlantic/Azores", "Atlantic/Azores"],
    ["Indian/Maldives", "Indian/Maldives"],
    ["Africa/Casablanca", "Africa/Casablanca"],
    ["Europe/Kyiv", "Europe/Kyiv"],
  ])("accepts %s as %s", (input, want) => {
    expect(checkRegionZone(input)).toEqual({ zone: want });
  });

  it.each<[string, RegExp]>([
    // Abbreviations and POSIX-style names: fixed offsets, or rules frozen in a name. No guess.
    ["EST", /^"EST" is not a region time zone: use an IANA Area\/Location zone/],
    ["MST7MDT", /^"MST7MDT" is not a region time zone: /],
    ["CET", /^"CET" is not a region time zone: /],
    ["HST", /^"HST" is not a region time zone: /],
    // Fixed offsets.
    ["+05:00", /^"\+05:00" is not a region time zone: /],
    ["Etc/GMT+5", /^"Etc\/GMT\+5" is not a region time zone: /],
    ["-0300", /^"-0300" is not a region time zone: /],
    // Legacy names: the region zone they stand for is suggested.
    ["US/Eastern", /^"US\/Eastern" is not a region time zone \(did you mean "America\/New_York"\?\)/],
    ["us/eastern", /^"us\/eastern" is not a region time zone \(did you mean "America\/New_York"\?\)/],
    ["Canada/Eastern", /did you mean "America\/Toronto"\?/],
    ["GMT", /^"GMT" is not a region time zone \(did you mean "UTC"\?\)/],
    ["Etc/UTC", /did you mean "UTC"\?/],
    ["Zulu", /did you mean "UTC"\?/],
    // Unknown names.
    ["America/Atlantis", /^"America\/Atlantis" is not in the IANA time zone database this server knows: use /],
    ["Mars/Olympus", /^"Mars\/Olympus" is not a region time zone: /],
    ["", /^"" is not a region time zone: /],
    ["Not a zone", /is not a region time zone/],
  ])("refuses %j, saying what to send instead", (input, message) => {
    const check = checkRegionZone(input);
    expect(check.zone).toBeUndefined();
    expect(check.refused).toMatch(message);
    expect(check.refused).toContain('"UTC"');
    expect(check.refused!.length).toBeLessThanOrEqual(300); // kit's MAX_ERROR_TEXT: never clipped
  });

  it("echoes at most 64 characters of what it was sent", () => {
    expect(checkRegionZone(`Europe/${"x".repeat(500)}`).refused!.length).toBeLessThanOrEqual(300);
  });
});
