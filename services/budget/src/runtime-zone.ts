import { UnavailableError } from "@adbudget/kit";
import { isValidZone } from "@adbudget/time";

/**
 * The brand's zone, when this process can compute its local days and months; else
 * UnavailableError. A stored zone can be one this runtime does not know: the brand service
 * accepted it with newer time zone data (a zone added in a recent tzdata release), or a row
 * was written before a check existed. Nothing in the request is wrong, so it is not
 * INVALID_ARGUMENT, and it is no bug in the call either (INTERNAL is not retried by clients,
 * and spend must not be dropped): UNAVAILABLE, retriable, says "not here, not now": the ad
 * server's retry with the same event id is recorded once this service runs with time zone data
 * that knows the zone. Checked before an event reaches the spend writer, whose group commit
 * computes every event's periods in one pass: there one such event would fail every caller
 * whose events share the transaction.
 */
export function usableZone(zone: string, brandId: string): string {
  if (isValidZone(zone)) return zone;
  throw new UnavailableError(
    `the time zone ${JSON.stringify(zone.slice(0, 64))} of brand ${JSON.stringify(brandId)} is not in this budget service's time zone data ` +
      "(Node's ICU): its periods cannot be computed here, nothing was recorded; retry after the service's time zone data is updated",
  );
}
