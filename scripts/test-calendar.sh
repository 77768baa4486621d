#!/usr/bin/env bash
# The calendar check (part of `npm test`), at the worst wall-clock moments
# (scripts/calendar-instants.ts): the 1st of a month in Kathmandu, a new year in UTC, and days
# without a midnight (DST at 00:00) in Santiago and Havana. Two parts:
#  - the crossing (workflows/src/calendar-boundary.test.ts), once per moment: the services' clock
#    a few seconds before the boundary (TEST_NOW, TEST_ZONE, TEST_BOUNDARY say which), and the
#    boundary crossed for real: spend on both sides, the exhausted period reset at its first
#    instant, the ended period left as it ended. It mostly waits for its boundary, so it runs in
#    the background beside the second part and costs no wall time;
#  - the date-sensitive suites replayed on the new day: TEST_NOW moves the tests' base clock
#    there and TEST_ZONE puts their date-neutral brands in that zone; the harnesses shift every
#    service's clock (CLOCK_OFFSET_MS) to the next local noon (a suite never meets a midnight).
# Arguments go to the second part's vitest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

INSTANTS="$(node scripts/calendar-instants.ts)"

crossing_log="$(mktemp)"
(
  failed=0
  while read -r at zone what; do
    [ -n "$at" ] || continue
    printf '\n==> calendar check: crossing %s (%s, %s)\n' "$at" "$what" "$zone"
    TEST_NOW="$at" TEST_ZONE="$zone" TEST_BOUNDARY="$what" vitest run workflows/src/calendar-boundary.test.ts || failed=1
  done <<<"$INSTANTS"
  exit "$failed"
) >"$crossing_log" 2>&1 &
crossing=$!
# If the suites below fail, the crossing (and the vitest it runs) stops too.
stop_crossing() {
  if kill -0 "$crossing" 2>/dev/null; then
    pkill -TERM -P "$crossing" || true
    wait "$crossing" || true
  fi
  rm -f "$crossing_log"
}
trap stop_crossing EXIT

log "calendar check: the suites as if at each moment (scripts/vitest-calendar.config.ts)"
CALENDAR_INSTANTS="$INSTANTS" vitest run --config scripts/vitest-calendar.config.ts "$@"

log "calendar check: the crossings"
status=0
wait "$crossing" || status=$?
cat "$crossing_log"
exit "$status"
