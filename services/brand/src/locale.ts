/**
 * Checks against the real tables, not only the shape the proto rules enforce: the IANA time
 * zone database and ISO 4217 currencies as shipped with Node's ICU.
 */

const currencies = new Set(Intl.supportedValuesOf("currency"));

/** The canonical spelling of an IANA zone ("america/new_york" -> "America/New_York"), or undefined. */
export function canonicalTimeZone(zone: string): string | undefined {
  // Offsets like "+05:00" are not zones: they have no DST rules and would freeze a brand's
  // calendar at one offset. The proto pattern already refuses them; keep the check here too.
  if (!/^[A-Za-z]/.test(zone)) return undefined;
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

export function isCurrency(code: string): boolean {
  return currencies.has(code);
}
