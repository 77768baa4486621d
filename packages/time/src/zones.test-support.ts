/**
 * Zones whose rules trip naive time code, for the property tests of zone.ts and daypart.ts (not
 * exported from the package: tests only). Each is here for a reason: New York and London, the
 * common DST; Lord Howe, a 30-minute DST; Kathmandu, a +05:45 offset; Chatham, +12:45/+13:45;
 * Santiago, a DST change at midnight that skips it; Havana, DST starting at midnight too. One
 * list, so a zone added for an edge of one module is tried by the other's properties as well.
 */
export const TRICKY_ZONES: readonly string[] = [
  "America/New_York",
  "Europe/London",
  "Australia/Lord_Howe",
  "Asia/Kathmandu",
  "Pacific/Chatham",
  "America/Santiago",
  "America/Havana",
];
