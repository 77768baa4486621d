/**
 * Checks against the real tables, not only the shape the proto rules enforce: the IANA time
 * zone database and ISO 4217 currencies as shipped with Node's ICU.
 */

const currencies = new Set(Intl.supportedValuesOf("currency"));
const zonesByLowerCase = new Map(Intl.supportedValuesOf("timeZone").map((z) => [z.toLowerCase(), z]));

/**
 * The spelling of an IANA zone to store, or undefined when it is not a zone.
 *
 * ICU knows every IANA name but canonicalizes to old spellings ("Asia/Kathmandu" resolves to
 * "Asia/Katmandu"), so a zone written properly is kept exactly as the user wrote it; only a
 * miscapitalized one ("america/new_york") is corrected, from ICU's list or its resolution.
 */
export function canonicalTimeZone(zone: string): string | undefined {
  // Offsets like "+05:00" are not zones: they have no DST rules and would freeze a brand's
  // calendar at one offset. The proto pattern already refuses them; keep the check here too.
  if (!/^[A-Za-z]/.test(zone)) return undefined;
  let resolved: string;
  try {
    resolved = new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
  const listed = zonesByLowerCase.get(zone.toLowerCase());
  if (listed !== undefined) return listed;
  return /^[A-Z]/.test(zone) ? zone : resolved;
}

export function isCurrency(code: string): boolean {
  return currencies.has(code);
}
