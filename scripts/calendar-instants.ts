/**
 * The worst wall-clock moments for the calendar check (scripts/test-calendar.sh), found from
 * today so they stay within CLOCK_OFFSET_MS's range in any year: ten seconds before
 *  - the next 1st of a month in Asia/Kathmandu (+05:45: a midnight that is no UTC hour),
 *  - the next new year in UTC,
 *  - the next day in America/Santiago and in America/Havana whose midnight does not exist
 *    (DST starts at 00:00 there: the day begins at 01:00 and has 23 hours).
 * Prints one "<ISO instant> <zone> <what>" line per moment found (a zone that stops changing its
 * clocks is skipped). The calendar check crosses each boundary (calendar-boundary.test.ts, whose
 * checks follow <what>) and replays the date-sensitive suites on the day after it.
 */
import { addDays, localDate, startOfDay, wallTime } from "@adbudget/time";

const now = Date.now();
const lines: string[] = [];

function firstDay(zone: string, test: (d: ReturnType<typeof localDate>) => boolean, horizonDays = 370) {
  let d = addDays(localDate(now, zone), 1);
  for (let i = 0; i < horizonDays; i++, d = addDays(d, 1)) if (test(d)) return d;
  return undefined;
}

function emit(zone: string, what: string, d: ReturnType<typeof localDate> | undefined) {
  if (d === undefined) return;
  lines.push(`${new Date(startOfDay(d, zone) - 10_000).toISOString()} ${zone} ${what}`);
}

emit(
  "Asia/Kathmandu",
  "first-of-month",
  firstDay("Asia/Kathmandu", (d) => d.day === 1),
);
emit(
  "UTC",
  "new-year",
  firstDay("UTC", (d) => d.month === 1 && d.day === 1),
);
for (const zone of ["America/Santiago", "America/Havana"]) {
  // A day whose first instant is not at 00:00 local: its midnight fell into a DST gap.
  emit(
    zone,
    "dst-day-without-midnight",
    firstDay(zone, (d) => wallTime(startOfDay(d, zone), zone).hour !== 0),
  );
}
console.log(lines.join("\n"));
