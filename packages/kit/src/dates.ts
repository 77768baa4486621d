import { daysInMonth, type CalendarDate } from "@adbudget/time";
import { InvalidArgumentError, type FieldViolation } from "./errors.js";

/** A google.type.Date as a plain shape (year, month 1-12, day 1-31). */
export type DateLike = CalendarDate;

/**
 * Checks a full calendar date a caller sent (google.type.Date allows partial dates; ours never
 * are): years 1970 to 9999 (our periods and flights are never earlier, and the range keeps every
 * date inside what JavaScript's Date and PostgreSQL's date type agree on), a real month and a
 * day that exists in it. Returns the violation, or undefined when the date is valid. The
 * calendar itself is @adbudget/time's.
 */
export function dateViolation(d: DateLike | undefined, field: string): FieldViolation | undefined {
  if (d === undefined) return { field, description: "is required" };
  if (!Number.isInteger(d.year) || d.year < 1970 || d.year > 9999) {
    return { field: `${field}.year`, description: "must be from 1970 to 9999" };
  }
  if (!Number.isInteger(d.month) || d.month < 1 || d.month > 12) {
    return { field: `${field}.month`, description: "must be from 1 to 12" };
  }
  const max = daysInMonth(d.year, d.month);
  if (!Number.isInteger(d.day) || d.day < 1 || d.day > max) {
    return { field: `${field}.day`, description: `must be from 1 to ${max}` };
  }
  return undefined;
}

/** `d` when it is a real calendar date, else InvalidArgumentError naming `field` (it is required). */
export function checkedDate(d: DateLike | undefined, field: string): DateLike {
  const bad = dateViolation(d, field);
  if (bad !== undefined || d === undefined)
    throw new InvalidArgumentError([bad ?? { field, description: "is required" }]);
  return d;
}
