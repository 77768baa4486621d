#!/usr/bin/env bash
# The calendar check (part of `npm test`): the suites whose results depend on the date replayed
# as if `npm test` ran at the worst wall-clock moments (scripts/calendar-instants.ts): just before
# the 1st of a month in Kathmandu, a new year in UTC, and days without a midnight (DST at 00:00)
# in Santiago and Havana. TEST_NOW moves the tests' base clock there and TEST_ZONE puts their
# date-neutral brands in that zone; the harnesses shift every service's clock (CLOCK_OFFSET_MS)
# from that base. Arguments go to vitest.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

SUITES=(
  services/budget/src/limits.test.ts
  services/budget/src/periods.test.ts
  services/budget/src/ledger-edges.test.ts
  services/budget/src/concurrency.test.ts
  services/campaign/src/budget-loop.test.ts
  services/campaign/src/edges.test.ts
  services/campaign/src/campaign-api.test.ts
  services/campaign/src/campaign-cap.test.ts
  workflows/src/reconcile.test.ts
)
while read -r at zone what; do
  [ -n "$at" ] || continue
  log "calendar check: as if at $at ($what, $zone)"
  extra=()
  # The clocks' suite (real Temporal timers, 2-3 minutes) once: on the 1st, where it used to break.
  [ "$what" = first-of-month ] && extra=(workflows/src/clocks.test.ts)
  TEST_NOW="$at" TEST_ZONE="$zone" vitest run "${SUITES[@]}" "${extra[@]}" "$@"
done < <(node scripts/calendar-instants.ts)
