/**
 * Which time zone names may be set where a local calendar is kept: IANA region zones and UTC.
 *
 * Days and months counted in a zone are its local calendar, so the zone must follow the local clock of
 * a place, daylight saving included. IANA names of the form Area/Location (America/New_York)
 * do; the other names the database also carries do not, or not obviously: abbreviations and
 * POSIX-style rules ("EST", "MST7MDT", "CET": fixed offsets or one country's rules frozen in a
 * name), fixed offsets ("Etc/GMT+5", "+05:00") and legacy aliases ("US/Eastern", "GMT"). They
 * are refused when a zone is set, with a message that says what to send instead; zones already
 * stored keep working (@adbudget/time takes any zone the runtime knows).
 */

/** The areas of region zones: the continents and oceans of tzdata's Area/Location names. */
export const ZONE_AREAS: readonly string[] = [
  "Africa",
  "America",
  "Antarctica",
  "Arctic",
  "Asia",
  "Atlantic",
  "Australia",
  "Europe",
  "Indian",
  "Pacific",
];

/** A zone name as checked: the spelling to store, or why it is refused (a sentence for callers). */
export type ZoneCheck = { zone: string; refused?: undefined } | { zone?: undefined; refused: string };

const EXAMPLES = 'an IANA Area/Location zone such as "America/New_York" or "Europe/Paris", or "UTC"';

/**
 * Checks a zone name someone asks to set: accepted when it is "UTC" or an Area/Location name
 * (Area one of ZONE_AREAS, any letter case) that the runtime's time zone data (Intl) knows.
 * The spelling returned is the runtime's own when it lists the zone (a miscapitalized name is
 * corrected), else the name as written when it starts with a capital (ICU resolves some current
 * names to older ones, Asia/Kathmandu to Asia/Katmandu: the user's is kept), else the runtime's
 * resolution. A refusal suggests the region zone a legacy alias stands for (US/Eastern ->
 * America/New_York) and never guesses for an abbreviation (EST is a link to America/Panama in
 * tzdata, not the New York a user most likely means).
 */
export function checkRegionZone(name: string): ZoneCheck {
  if (name.toUpperCase() === "UTC") return { zone: "UTC" };
  const resolved = resolve(name);
  const area = name.includes("/") ? name.slice(0, name.indexOf("/")) : undefined;
  const isRegion = area !== undefined && ZONE_AREAS.some((a) => a.toLowerCase() === area.toLowerCase());
  const shown = JSON.stringify(name.length > 64 ? `${name.slice(0, 64)}...` : name);
  if (isRegion && resolved !== undefined) {
    const listed = listedZones().get(name.toLowerCase());
    return { zone: listed ?? (/^[A-Z]/.test(name) ? name : resolved) };
  }
  if (isRegion) return { refused: `${shown} is not in the IANA time zone database this server knows: use ${EXAMPLES}` };
  const suggestion =
    resolved === "UTC"
      ? ' (did you mean "UTC"?)'
      : resolved !== undefined && area !== undefined && isRegionName(resolved)
        ? ` (did you mean ${JSON.stringify(resolved)}?)`
        : "";
  return {
    refused:
      `${shown} is not a region time zone${suggestion}: use ${EXAMPLES} ` +
      "(abbreviations, fixed offsets like +05:00 or Etc/GMT+5 and legacy names like US/Eastern are refused)",
  };
}

function isRegionName(zone: string): boolean {
  const slash = zone.indexOf("/");
  return slash > 0 && ZONE_AREAS.includes(zone.slice(0, slash));
}

/** The runtime's resolution of a zone name, or undefined when it does not know it. */
function resolve(name: string): string | undefined {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: name }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

let listed: Map<string, string> | undefined;
/** The runtime's zone list by lower-case name (built on first use). */
function listedZones(): Map<string, string> {
  listed ??= new Map(Intl.supportedValuesOf("timeZone").map((z) => [z.toLowerCase(), z]));
  return listed;
}
