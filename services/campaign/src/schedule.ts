import { create } from "@bufbuild/protobuf";
import { InvalidArgumentError, type FieldViolation } from "@adbudget/kit";
import { DaypartScheduleSchema, type DaypartSchedule } from "@adbudget/proto/adbudget/campaign/v1/campaign_pb.js";
import {
  checkRegionZone,
  formatClock,
  normalizeWindows,
  parseClock,
  type DaypartWindow,
  type ZoneCheck,
} from "@adbudget/time";

/** A schedule as stored: its own zone ("" = the brand's) and normalized windows. */
export interface StoredSchedule {
  timeZone: string;
  windows: DaypartWindow[];
}

/**
 * Checks and normalizes a schedule from a request. The proto rules already checked the shape
 * (HH:MM, 24:00 only as an end, known weekdays, no duplicates); this checks what needs more:
 * a window must not start and end at the same minute (ambiguous: use 00:00-24:00 for a whole
 * day), a named zone must be a region zone or UTC. A schedule without windows is no
 * dayparting: undefined.
 */
export function scheduleFromProto(s: DaypartSchedule | undefined, path: string): StoredSchedule | undefined {
  if (s === undefined) return undefined;
  const violations: FieldViolation[] = [];
  // A zone set anew must be a region zone (@adbudget/time checkRegionZone), stored in its checked spelling.
  const zone: ZoneCheck = s.timeZone === "" ? { zone: "" } : checkRegionZone(s.timeZone);
  if (zone.refused !== undefined) violations.push({ field: `${path}.time_zone`, description: zone.refused });
  const windows: DaypartWindow[] = [];
  s.windows.forEach((w, i) => {
    const start = parseClock(w.start, false);
    const end = parseClock(w.end, true);
    const at = `${path}.windows[${i}]`;
    if (start === undefined) violations.push({ field: `${at}.start`, description: "must be HH:MM, 00:00 to 23:59" });
    if (end === undefined) violations.push({ field: `${at}.end`, description: "must be HH:MM, 00:00 to 24:00" });
    if (start !== undefined && end !== undefined && (start === end || (start === 0 && end === 0))) {
      violations.push({ field: `${at}.end`, description: "must differ from start (use 00:00-24:00 for a whole day)" });
    }
    if (w.daysOfWeek.length === 0)
      violations.push({ field: `${at}.days_of_week`, description: "must name at least one day" });
    for (const d of w.daysOfWeek) {
      const isoDay: number = d; // DayOfWeek numbers the days as ISO does, 1 (Monday) to 7
      if (isoDay < 1 || isoDay > 7)
        violations.push({ field: `${at}.days_of_week`, description: `unknown weekday ${isoDay}` });
    }
    if (start !== undefined && end !== undefined)
      windows.push({ days: [...w.daysOfWeek], start, end: end === 0 ? 1440 : end });
  });
  if (violations.length > 0) throw new InvalidArgumentError(violations);
  const normalized = normalizeWindows(windows);
  return normalized.length === 0 ? undefined : { timeZone: zone.zone ?? s.timeZone, windows: normalized };
}

export function scheduleToProto(s: StoredSchedule | null | undefined): DaypartSchedule | undefined {
  if (s === null || s === undefined) return undefined;
  return create(DaypartScheduleSchema, {
    timeZone: s.timeZone,
    windows: s.windows.map((w) => ({ daysOfWeek: w.days, start: formatClock(w.start), end: formatClock(w.end) })),
  });
}

/** The zone a schedule is evaluated in. */
export function scheduleZone(s: StoredSchedule, brandZone: string): string {
  return s.timeZone || brandZone;
}
