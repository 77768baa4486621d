#!/usr/bin/env bash
# `npm test`: installs what is missing, brings up the infrastructure, builds, checks the protos
# and types, and runs every test (vitest) against real PostgreSQL, NATS and Temporal.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_deps
ensure_grpcurl
trap report_left_running EXIT
CLOCKS_SUITE=workflows/src/clocks.test.ts
log "infrastructure"
# Tests start their own Temporal dev servers (from the CLI infra.sh builds once): no shared one.
ADBUDGET_TEMPORAL_SERVER=0 ADBUDGET_PG_AUTOCTL=1 bash deploy/local/infra.sh
log "build (protos -> TypeScript, then every package)"
turbo run build --output-logs=errors-only
if [ "$#" -eq 0 ]; then
  # ESLint's type-checked rules take ~45 s of one core: it runs beside the checks below (~20 s
  # together) on the other, and its verdict is awaited before the tests start.
  log "lint (ESLint, type-checked rules), beside the checks below"
  eslint . --cache --cache-location node_modules/.cache/eslint/ &
  eslint_pid=$!
  log "buf lint and format"
  buf lint
  buf format --diff --exit-code proto
  log "buf breaking (against the previous commit)"
  bash scripts/buf-breaking.sh HEAD~1
  log "deploy manifests (kustomize build, compose structure)"
  node scripts/validate-deploy.mjs
  log "Go SDK: stubs current (scripts/generate-go.sh --check), go vet"
  bash scripts/generate-go.sh --check
  (cd clients/go && go vet ./...)
  (cd examples/go-ad-server && go vet ./...)
  log "typecheck (sources and tests)"
  tsc -p tsconfig.json
  log "format (Prettier --check)"
  prettier --check . --log-level warn
  log "lint: waiting for ESLint"
  wait "$eslint_pid"
else
  # `npm test -- <path>`: the loop on what you touched. The whole-tree checks (buf, deploy
  # manifests, tsc, lint) and the calendar check run with `npm test` alone.
  log "tests of $* only (npm test alone also runs buf, the manifests, tsc, the lint and the calendar check)"
fi
if [ "$#" -eq 0 ]; then
  # The clocks' suite waits on real Temporal timers across minute boundaries: 3.5 minutes, of
  # which it uses about a third of one core (measured: 212 s wall, 77 s CPU). It runs as a
  # vitest of its own beside the main run, which keeps both cores for the rest; in the main run
  # it held one of its two workers for its whole length. Its own process group (setsid), so that
  # stopping it early stops its Temporal dev server and worker too.
  clocks_log="$(mktemp)"
  setsid vitest run "$CLOCKS_SUITE" >"$clocks_log" 2>&1 &
  clocks_pid=$!
  stop_clocks() {
    if [ -n "$clocks_pid" ]; then
      kill -TERM -- "-$clocks_pid" 2>/dev/null || true
      wait "$clocks_pid" 2>/dev/null || true
      cat "$clocks_log"
    fi
    rm -f "$clocks_log"
  }
  trap 'stop_clocks; report_left_running' EXIT
  log "tests (the clocks' suite, $CLOCKS_SUITE, beside them)"
  main_status=0
  vitest run --exclude "$CLOCKS_SUITE" || main_status=$?
  log "tests: the clocks' suite"
  clocks_status=0
  wait "$clocks_pid" || clocks_status=$?
  clocks_pid=
  cat "$clocks_log"
  [ "$main_status" -eq 0 ] || exit "$main_status"
  [ "$clocks_status" -eq 0 ] || exit "$clocks_status"
  # The calendar check runs after the whole suite, and only when the whole suite ran.
  bash scripts/test-calendar.sh
else
  log "tests"
  vitest run "$@"
fi
