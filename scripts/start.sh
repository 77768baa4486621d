#!/usr/bin/env bash
# `npm start`: installs what is missing, brings up PostgreSQL, NATS and Temporal (reusing running
# ones), builds, starts every service and the worker (scripts/start-services.ts), waits for
# health and prints where everything listens.
# Ctrl-C stops what this run started and nothing else: the services, the worker, and any of
# PostgreSQL, NATS and the Temporal dev server that infra.sh had to start (ones that were already
# running, or that an earlier `npm start` left, keep running).
set -euo pipefail
source "$(dirname "$0")/lib.sh"

ensure_deps
started_infra=()
# claim_new_infra: the daemons infra.sh started in this run (pid files not there before) are ours.
claim_new_infra() {
  local f
  for f in "$RUN_DIR"/*.pid; do
    [ -f "$f" ] || continue
    grep -qxF "$f" <<<"$before" || started_infra+=("$f")
  done
}
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
  for f in "${started_infra[@]}"; do
    [ -f "$f" ] || continue
    log "stopping $(basename "$f" .pid) (started by this run)"
    kill "$(cat "$f")" 2>/dev/null || true
    rm -f "$f"
  done
}
trap stop_all INT TERM EXIT

log "infrastructure"
RUN_DIR="${ADBUDGET_DATA_DIR:-.data}/run"
before=$(ls "$RUN_DIR"/*.pid 2>/dev/null || true)
bash deploy/local/infra.sh || { log "infrastructure failed"; claim_new_infra; exit 1; }
claim_new_infra
# TOPOLOGY=production: the engines as deployed (deploy/local/production.sh wrote their settings)
# and the services as deployed (two replicas each, mutual TLS, a NATS user per workload).
TOPOLOGY="${TOPOLOGY:-development}"
if [ "$TOPOLOGY" = production ]; then
  set -a
  # shellcheck source=/dev/null
  source "${ADBUDGET_DATA_DIR:-.data}/production/env"
  set +a
  export TLS_DIR="${TLS_DIR:-$ROOT/.data/tls}"
  DEMO="${DEMO:-0}"
fi
log "build"
turbo run build --output-logs=errors-only

# Each process writes its JSON log lines (and, with TRACING=stdout, its spans) to its own file,
# so the terminal shows the table and the demo; `tail -f .data/logs/*.log` shows the rest.
LOG_DIR=.data/logs
mkdir -p "$LOG_DIR"
export TRACING="${TRACING:-stdout}"

# Every call needs a token. On the first run a development key pair is made under .data/keys
# (git-ignored), registered for every role: every process verifies tokens with its public half
# (JWKS) and signs its own identity with the private half. Production mounts a JWKS and a key per
# workload instead, each registered for its own role only.
# The production topology's keys are production's shape: a key per workload, registered for its
# role alone, and an issuer's key for the other roles (what the admin token below is signed with).
workload_keys=()
if [ "$TOPOLOGY" = production ] && [ -z "${AUTH_JWKS_FILE:-}${AUTH_JWKS_URL:-}" ]; then
  keys="$ROOT/.data/production/keys"
  node -e 'Promise.all([import("@adbudget/kit"), import("@adbudget/topology")]).then(([k, t]) => k.ensureWorkloadKeys(process.argv[1], t.WORKLOADS.map((w) => ({ name: w, role: w === t.WORKER.name ? t.WORKER.role : t.SERVICES[w].role })), t.ROLES))' "$keys"
  export AUTH_JWKS_FILE="$keys/jwks.json" AUTH_PRIVATE_KEY_FILE="$keys/signing-key.json"
  workload_keys=(--workload-keys "$keys")
elif [ -z "${AUTH_JWKS_FILE:-}${AUTH_JWKS_URL:-}" ]; then
  node -e 'Promise.all([import("@adbudget/kit"), import("@adbudget/topology")]).then(([k, t]) => k.ensureDevKeys(".data/keys", t.ROLES))'
  export AUTH_JWKS_FILE="$ROOT/.data/keys/jwks.json" AUTH_PRIVATE_KEY_FILE="$ROOT/.data/keys/signing-key.json"
fi
ADMIN_TOKEN=$(node scripts/token.ts --role admin --ttl 12h --sub start:admin 2>/dev/null | tail -n 1)

# The services and the worker: scripts/start-services.ts starts them through the process launcher
# of @adbudget/testing (each one's output in $LOG_DIR/<name>.log) and writes the ready file once
# every service answers health SERVING and the worker is started.
ready="$RUN_DIR/services.ready"
mkdir -p "$RUN_DIR"
rm -f "$ready"
node scripts/start-services.ts --log-dir "$LOG_DIR" --ready-file "$ready" --topology "$TOPOLOGY" ${workload_keys[@]+"${workload_keys[@]}"} &
pids+=($!)
until [ -f "$ready" ]; do
  kill -0 "${pids[0]}" 2>/dev/null || exit 1
  sleep 0.2
done
rm -f "$ready"

# name|port (the table)
SERVICES=(
  "brand|${BRAND_PORT:-50051}"
  "budget|${BUDGET_PORT:-50052}"
  "campaign|${CAMPAIGN_PORT:-50053}"
)

if [ "$TOPOLOGY" = production ]; then
  cat >&2 <<TABLE

  adbudget is up on the production topology (all healthy)

  what           where
  -------------  -----------------------------------------------
$(for s in "${SERVICES[@]}"; do IFS='|' read -r name port <<<"$s"; printf '  %-13s  %s\n' "$name" "grpc+connect over mutual TLS 127.0.0.1:$port (2 replicas: :$((port + 100)), :$((port + 200)))"; done)
  clocks worker  Temporal server $TEMPORAL_ADDRESS, task queue ${TEMPORAL_TASK_QUEUE:-adbudget}
  Temporal UI    http://127.0.0.1:${PROD_TEMPORAL_UI_PORT:-8333}
  PostgreSQL     $PG_URL (pg_auto_failover)
  NATS           $NATS_URL (3 replicas per stream, a user per workload)
  logs           $LOG_DIR/<name>.log; npm run infra -- --topology production status

  an admin token (12 h):
    export TOKEN=$ADMIN_TOKEN

  try:  grpcurl -cacert $TLS_DIR/ca.pem -cert $TLS_DIR/operator.pem -key $TLS_DIR/operator-key.pem \\
          -H "authorization: Bearer \$TOKEN" 127.0.0.1:${BRAND_PORT:-50051} list

  Ctrl-C stops what this run started (the services, and engines it had to start).
TABLE
else
cat >&2 <<TABLE

  adbudget is up (all healthy)

  what           where
  -------------  -----------------------------------------------
$(for s in "${SERVICES[@]}"; do IFS='|' read -r name port <<<"$s"; printf '  %-13s  %s\n' "$name" "grpc+connect  127.0.0.1:$port"; done)
  clocks worker  Temporal task queue ${TEMPORAL_TASK_QUEUE:-adbudget}
  metrics        http://127.0.0.1:9451/metrics (9452 budget, 9453 campaign, 9454 clocks)
  logs, traces   $LOG_DIR/{brand,budget,campaign,clocks}.log (JSON lines; TRACING=$TRACING)
  PostgreSQL     127.0.0.1:${PG_PORT:-5432}
  NATS           127.0.0.1:${NATS_PORT:-4222}
  Temporal       127.0.0.1:${TEMPORAL_PORT:-7233}
  Temporal UI    http://127.0.0.1:${TEMPORAL_UI_PORT:-8233}

  an admin token (12 h; npm run token -- --role <role> [--brand <id>] makes others):
    export TOKEN=$ADMIN_TOKEN

  try:  grpcurl -plaintext -H "authorization: Bearer \$TOKEN" 127.0.0.1:${BRAND_PORT:-50051} list
        grpcurl -plaintext -H "authorization: Bearer \$TOKEN" -d '{"name":"Acme","time_zone":"America/New_York"}' \\
          127.0.0.1:${BRAND_PORT:-50051} adbudget.brand.v1.BrandService/CreateBrand

  Ctrl-C stops what this run started (services, worker, and infrastructure it had to start).
TABLE
fi

# The live demo (DEMO=0 skips it): seeds brands and plays ad servers through the public API.
if [ "${DEMO:-1}" != 0 ]; then
  log "live demo (DEMO=0 to skip; npm run demo to play it again)"
  DEMO_LOG_DIR="$LOG_DIR" node scripts/demo.ts || log "the demo failed; the services keep running"
fi

wait -n "${pids[@]}" || true
if [ "$stopping" != 1 ]; then
  log "a service exited; stopping the others (last lines of the logs follow)"
  for f in "$LOG_DIR"/*.log; do echo "--- $f" >&2; tail -n 10 "$f" >&2; done
fi
