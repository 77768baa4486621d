#!/usr/bin/env bash
# Makes the local infrastructure of adbudget available: PostgreSQL, NATS with JetStream, and the
# Temporal dev server (Web UI on 8233, search attributes BrandId and CampaignId registered).
#
# For each one, in order: use a server already reachable at the configured address; else start a
# project-local one (data under .data/, git-ignored); else install it (apt for PostgreSQL and
# nats-server, `go install` for the Temporal CLI) and start it. Idempotent: safe to run twice.
#
#   deploy/local/infra.sh          ensure everything is up
#   deploy/local/infra.sh status   print what is reachable
#   deploy/local/infra.sh stop     stop the servers this script started (nothing else)
#   deploy/local/infra.sh --topology production [up|status|stop]   the production topology:
#                                  deploy/local/production.sh (TOPOLOGY=production does the same)
#
# Settings (defaults): PG_HOST 127.0.0.1, PG_PORT 5432, NATS_HOST 127.0.0.1, NATS_PORT 4222,
# TEMPORAL_HOST 127.0.0.1, TEMPORAL_PORT 7233, TEMPORAL_UI_PORT 8233,
# NATS_MIN_VERSION 2.9.0 (an older server lacks JetStream APIs the client uses: a newer one is
# built from the Go module proxy), TEMPORAL_CLI_VERSION v1.5.1, ADBUDGET_TEMPORAL_SERVER 1 (0: build
# the Temporal CLI but start no shared dev server; npm test's tests start their own).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${ADBUDGET_DATA_DIR:-$ROOT/.data}"
PG_HOST="${PG_HOST:-127.0.0.1}"
PG_PORT="${PG_PORT:-5432}"
NATS_HOST="${NATS_HOST:-127.0.0.1}"
NATS_PORT="${NATS_PORT:-4222}"
NATS_MIN_VERSION="${NATS_MIN_VERSION:-2.9.0}"
NATS_SERVER_MODULE_VERSION="${NATS_SERVER_MODULE_VERSION:-v2.15.2}"
TEMPORAL_HOST="${TEMPORAL_HOST:-127.0.0.1}"
TEMPORAL_PORT="${TEMPORAL_PORT:-7233}"
TEMPORAL_UI_PORT="${TEMPORAL_UI_PORT:-8233}"
TEMPORAL_CLI_VERSION="${TEMPORAL_CLI_VERSION:-v1.5.1}"
SEARCH_ATTRIBUTES=(BrandId CampaignId)

source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# ---------------------------------------------------------------- PostgreSQL
ensure_postgres() {
  if reachable "$PG_HOST" "$PG_PORT"; then say "PostgreSQL: reachable at $PG_HOST:$PG_PORT"; return; fi
  # A Debian cluster that is installed but stopped (the machine's own): start it.
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ] && [ -n "$(ls /etc/postgresql 2>/dev/null)" ]; then
    local version; version=$(ls /etc/postgresql | sort -V | tail -1)
    say "PostgreSQL: starting the installed cluster $version/main"
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    if reachable "$PG_HOST" "$PG_PORT" || (sleep 2 && reachable "$PG_HOST" "$PG_PORT"); then return; fi
  fi
  local bindir; bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$bindir" ]; then
    apt_install postgresql
    ensure_postgres
    return
  fi
  # A project-local cluster with trust auth, owned by the postgres user (the server refuses root).
  local pgdata="$DATA/postgres" run_as=()
  if [ "$(id -u)" = 0 ]; then run_as=(runuser -u postgres --); fi
  mkdir -p "$pgdata" "$DATA/logs"
  [ "$(id -u)" = 0 ] && chown postgres "$pgdata" "$DATA/logs"
  if [ ! -f "$pgdata/PG_VERSION" ]; then
    say "PostgreSQL: creating a project-local cluster in $pgdata"
    "${run_as[@]}" "$bindir/initdb" -D "$pgdata" -U postgres --auth=trust >/dev/null
  fi
  say "PostgreSQL: starting project-local server on $PG_HOST:$PG_PORT"
  "${run_as[@]}" "$bindir/pg_ctl" -D "$pgdata" -l "$DATA/logs/postgres.log" -w \
    -o "-h $PG_HOST -p $PG_PORT -k /tmp" start >/dev/null
  wait_for PostgreSQL "$PG_HOST" "$PG_PORT" 30
}

# ---------------------------------------------------------------- NATS

# nats_info: the INFO line a NATS server sends on connect (version, jetstream).
nats_info() { timeout 2 bash -c "exec 3<>/dev/tcp/$NATS_HOST/$NATS_PORT; head -1 <&3" 2>/dev/null || true; }

nats_server_binary() {
  # A server new enough for the client: ours (built from the Go module proxy), else the system's.
  local candidate
  for candidate in "$(find_tool nats-server 2>/dev/null || true)" "$(go_bin_dir)/nats-server" /usr/sbin/nats-server; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    local v; v=$("$candidate" --version 2>/dev/null | grep -oE '[0-9]+\.[0-9]+\.[0-9]+' | head -1)
    if [ -n "$v" ] && version_ge "$v" "$NATS_MIN_VERSION"; then echo "$candidate"; return 0; fi
  done
  command -v go >/dev/null || die "no nats-server >= $NATS_MIN_VERSION and no Go to build one"
  say "NATS: building nats-server $NATS_SERVER_MODULE_VERSION from the Go module proxy (one time, ~2 min)"
  GOTOOLCHAIN=local go install "github.com/nats-io/nats-server/v2@$NATS_SERVER_MODULE_VERSION" >&2
  echo "$(go_bin_dir)/nats-server"
}

ensure_nats() {
  local info
  info=$(nats_info)
  if [ -n "$info" ]; then
    local v; v=$(grep -oE '"version":"[^"]+"' <<<"$info" | cut -d'"' -f4)
    if ! grep -q '"jetstream":true' <<<"$info"; then
      die "NATS at $NATS_HOST:$NATS_PORT (version $v) runs without JetStream; restart it with -js, or set NATS_PORT to a free port"
    fi
    if version_ge "$v" "$NATS_MIN_VERSION"; then say "NATS: reachable at $NATS_HOST:$NATS_PORT (v$v, JetStream on)"; return; fi
    # An old server is in the way (Debian's 2.9): leave it alone unless it is the system one we
    # may replace; say clearly what to do otherwise.
    if [ "${ADBUDGET_REPLACE_OLD_NATS:-1}" = 1 ] && pgrep -x nats-server >/dev/null && [ "$(id -u)" = 0 ]; then
      say "NATS: v$v at $NATS_HOST:$NATS_PORT is older than $NATS_MIN_VERSION; replacing it with a project-local server"
      pkill -x nats-server || true
      for _ in $(seq 1 50); do reachable "$NATS_HOST" "$NATS_PORT" || break; sleep 0.1; done
    else
      die "NATS v$v at $NATS_HOST:$NATS_PORT is older than $NATS_MIN_VERSION; stop it or point NATS_PORT elsewhere"
    fi
  fi
  if ! command -v nats-server >/dev/null && ! command -v go >/dev/null; then apt_install nats-server; fi
  local bin; bin=$(nats_server_binary)
  mkdir -p "$DATA/nats"
  say "NATS: starting project-local $bin on $NATS_HOST:$NATS_PORT (JetStream in $DATA/nats)"
  start_daemon nats "$bin" -a "$NATS_HOST" -p "$NATS_PORT" -js -sd "$DATA/nats"
  wait_for NATS "$NATS_HOST" "$NATS_PORT" 20
}

# ---------------------------------------------------------------- Temporal
temporal_binary() {
  local bin
  if bin=$(find_tool temporal); then echo "$bin"; return 0; fi
  command -v go >/dev/null || die "the Temporal CLI is missing and Go is not installed to build it (apt-get install golang, or put 'temporal' on PATH)"
  say "Temporal: building the CLI $TEMPORAL_CLI_VERSION with go install (one time, ~6 min on 2 cores)"
  if ! GOTOOLCHAIN=local go install "github.com/temporalio/cli/cmd/temporal@$TEMPORAL_CLI_VERSION" >&2; then
    say "Temporal: $TEMPORAL_CLI_VERSION did not build; trying v1.4.1"
    GOTOOLCHAIN=local go install "github.com/temporalio/cli/cmd/temporal@v1.4.1" >&2 \
      || die "could not build the Temporal CLI; install it and put 'temporal' on PATH"
  fi
  echo "$(go_bin_dir)/temporal"
}

ensure_search_attributes() {
  local bin=$1 name existing
  existing=$("$bin" operator search-attribute list --address "$TEMPORAL_HOST:$TEMPORAL_PORT" 2>/dev/null || true)
  for name in "${SEARCH_ATTRIBUTES[@]}"; do
    if ! grep -qw "$name" <<<"$existing"; then
      "$bin" operator search-attribute create --address "$TEMPORAL_HOST:$TEMPORAL_PORT" \
        --name "$name" --type Keyword >/dev/null 2>&1 || true
    fi
  done
}

ensure_temporal() {
  local bin; bin=$(temporal_binary)
  if reachable "$TEMPORAL_HOST" "$TEMPORAL_PORT"; then
    say "Temporal: reachable at $TEMPORAL_HOST:$TEMPORAL_PORT"
  else
    mkdir -p "$DATA/temporal"
    say "Temporal: starting the dev server on $TEMPORAL_HOST:$TEMPORAL_PORT (UI http://$TEMPORAL_HOST:$TEMPORAL_UI_PORT)"
    start_daemon temporal "$bin" server start-dev --ip "$TEMPORAL_HOST" --port "$TEMPORAL_PORT" \
      --ui-port "$TEMPORAL_UI_PORT" --db-filename "$DATA/temporal/temporal.db" --log-level warn \
      --search-attribute BrandId=Keyword --search-attribute CampaignId=Keyword
    wait_for Temporal "$TEMPORAL_HOST" "$TEMPORAL_PORT" 60
  fi
  # The frontend accepts connections before it serves; wait until it answers.
  for _ in $(seq 1 60); do
    "$bin" operator cluster health --address "$TEMPORAL_HOST:$TEMPORAL_PORT" >/dev/null 2>&1 && break
    sleep 0.5
  done
  ensure_search_attributes "$bin"
}

status() {
  local s
  for s in "PostgreSQL $PG_HOST $PG_PORT" "NATS $NATS_HOST $NATS_PORT" "Temporal $TEMPORAL_HOST $TEMPORAL_PORT" "Temporal-UI $TEMPORAL_HOST $TEMPORAL_UI_PORT"; do
    set -- $s
    if reachable "$2" "$3"; then echo "$1 up $2:$3"; else echo "$1 down $2:$3"; fi
  done
}

stop() {
  local pidfile
  for pidfile in "$DATA"/run/*.pid; do
    [ -f "$pidfile" ] || continue
    local pid; pid=$(cat "$pidfile")
    # Each daemon leads its own process group (start_daemon's setsid): the group is signalled, so
    # pg_autoctl's PostgreSQL stops with it; waited for, so its ports are free when this returns.
    if kill -0 "$pid" 2>/dev/null; then
      say "stopping $(basename "$pidfile" .pid) ($pid)"
      kill -- "-$pid" 2>/dev/null || kill "$pid" || true
      for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && { say "$(basename "$pidfile" .pid) did not stop in 10 s: SIGKILL"; kill -9 -- "-$pid" 2>/dev/null || true; }
    fi
    rm -f "$pidfile"
  done
  # A PostgreSQL of the production topology that outlived its keeper (started by an earlier life of
  # it, in another process group): fast shutdown, so no old server holds a node's port.
  local pm
  for pm in "$DATA"/production/pg/*/postmaster.pid; do
    [ -f "$pm" ] || continue
    local ppid; ppid=$(head -1 "$pm")
    # Only a postmaster of that directory: a stale file's pid may be another process's by now.
    if kill -0 "$ppid" 2>/dev/null && [ "$(sed -n 2p "$pm")" = "$(dirname "$pm")" ] \
      && [ "$(cat "/proc/$ppid/comm" 2>/dev/null)" = postgres ]; then
      say "stopping PostgreSQL $(basename "$(dirname "$pm")") ($ppid)"
      kill -INT "$ppid" || true
      for _ in $(seq 1 100); do kill -0 "$ppid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
  if [ -f "$DATA/postgres/postmaster.pid" ]; then
    local bindir; bindir=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
    local run_as=(); [ "$(id -u)" = 0 ] && run_as=(runuser -u postgres --)
    "${run_as[@]}" "$bindir/pg_ctl" -D "$DATA/postgres" stop -m fast >/dev/null || true
  fi
}

# --topology production: the engines as deployed (deploy/local/production.sh).
if [ "${1:-}" = --topology ] || [ "${TOPOLOGY:-development}" = production ]; then
  [ "${1:-}" = --topology ] && { TOPOLOGY=${2:-}; shift 2; }
  case "$TOPOLOGY" in
    production) [ "${1:-up}" = stop ] || exec bash "$(dirname "${BASH_SOURCE[0]}")/production.sh" "${1:-up}" ;;
    development) ;;
    *) die "--topology: development or production, got ${TOPOLOGY:-nothing}" ;;
  esac
fi

case "${1:-up}" in
  up)
    ensure_postgres
    ensure_nats
    # npm test's failover test runs pg_auto_failover pairs of its own: the tool only.
    if [ "${ADBUDGET_PG_AUTOCTL:-0}" = 1 ]; then ensure_pg_autoctl; fi
    if [ "${ADBUDGET_SKIP_TEMPORAL:-0}" = 1 ]; then :
    elif [ "${ADBUDGET_TEMPORAL_SERVER:-1}" = 0 ]; then
      # The CLI only (npm test: every test starts its own dev server from it).
      temporal_binary >/dev/null && say "Temporal: CLI ready (no shared server started)"
    else ensure_temporal; fi
    say "infrastructure ready"
    ;;
  status) status ;;
  stop) stop ;;
  *) die "usage: $0 [up|status|stop]" ;;
esac
