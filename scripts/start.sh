#!/usr/bin/env bash
# `npm start`: installs what is missing, brings up PostgreSQL, NATS and Temporal (reusing running
# ones), builds, starts every service, waits for health and prints where everything listens.
# Ctrl-C stops the services it started (the infrastructure keeps running; `npm run infra -- stop`
# stops what infra.sh started).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_deps
log "infrastructure"
bash deploy/local/infra.sh
log "build"
turbo run build --output-logs=errors-only

# name|port|entry
SERVICES=(
  "brand|${BRAND_PORT:-50051}|services/brand/dist/main.js"
  "budget|${BUDGET_PORT:-50052}|services/budget/dist/main.js"
  "campaign|${CAMPAIGN_PORT:-50053}|services/campaign/dist/main.js"
)

pids=()
stopping=0
stop_all() {
  stopping=1
  trap - INT TERM EXIT
  if [ ${#pids[@]} -gt 0 ]; then
    log "stopping services"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all INT TERM EXIT

targets=()
for s in "${SERVICES[@]}"; do
  IFS='|' read -r name port entry <<<"$s"
  log "starting $name on :$port"
  node "$entry" &
  pids+=($!)
  targets+=("$name=http://127.0.0.1:$port")
done

node scripts/wait-healthy.mjs "${targets[@]}" --timeout 60

# The clocks: the Temporal worker (no port of its own; watch it in the Temporal UI).
log "starting the clocks worker (Temporal task queue ${TEMPORAL_TASK_QUEUE:-adbudget})"
node workflows/dist/worker-main.js &
pids+=($!)

cat >&2 <<TABLE

  adbudget is up (all healthy)

  what           where
  -------------  -----------------------------------------------
$(for s in "${SERVICES[@]}"; do IFS='|' read -r name port _ <<<"$s"; printf '  %-13s  %s\n' "$name" "grpc+connect  127.0.0.1:$port"; done)
  clocks worker  Temporal task queue ${TEMPORAL_TASK_QUEUE:-adbudget}
  metrics        http://127.0.0.1:9451/metrics (9452 budget, 9453 campaign)
  PostgreSQL     127.0.0.1:${PG_PORT:-5432}
  NATS           127.0.0.1:${NATS_PORT:-4222}
  Temporal       127.0.0.1:${TEMPORAL_PORT:-7233}
  Temporal UI    http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}

  try:  grpcurl -plaintext 127.0.0.1:${BRAND_PORT:-50051} list
        grpcurl -plaintext -d '{"name":"Acme","time_zone":"America/New_York"}' \\
          127.0.0.1:${BRAND_PORT:-50051} adbudget.brand.v1.BrandService/CreateBrand

  Ctrl-C stops the services.
TABLE

# The live demo (DEMO=0 skips it): seeds brands and plays ad servers through the public API.
if [ "${DEMO:-1}" != 0 ]; then
  log "live demo (DEMO=0 to skip; npm run demo to play it again)"
  node scripts/demo.ts || log "the demo failed; the services keep running"
fi

wait -n "${pids[@]}" || true
[ "$stopping" = 1 ] || log "a service exited; stopping the others"
