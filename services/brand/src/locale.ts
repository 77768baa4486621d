/**
 * Checks against the real tables, not only the shape the proto rules enforce: ISO 4217
 * currencies as shipped with Node's ICU. Time zones: checkRegionZone of @adbudget/time.
 */

const currencies = new Set(Intl.supportedValuesOf("currency"));
export function isCurrency(code: string): boolean {
  return currencies.has(code);
}
