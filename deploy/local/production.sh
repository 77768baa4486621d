#!/usr/bin/env bash
# The production topology of adbudget's engines, on this machine (`npm run infra -- --topology
# production`, and `TOPOLOGY=production npm start`): the engines as their operators run them,
# not the development shapes.
#
#   PostgreSQL  pg_auto_failover (Debian): a monitor (PROD_PG_MONITOR_PORT 5440), a primary and a
#               synchronous standby (PROD_PG_PORTS 5441 5442); automatic failover. The services
#               and Temporal reach the current primary with the multi-host URL and
#               target_session_attrs=read-write.
#   NATS        three nats-servers NATS_SERVER_VERSION (v2.15.2, built from the Go module proxy),
#               routed, JetStream on all three (streams at 3 replicas: STREAM_REPLICAS=3), TLS
#               with the development CA (scripts/dev-certs.sh), a user per workload with its own
#               permissions (deploy/local/nats-auth.conf) and a generated password.
#               Clients on PROD_NATS_PORTS 4241 4242 4243, routes on 6241-6243, monitoring
#               (/healthz) on 8241-8243.
#   Temporal    the server TEMPORAL_SERVER_VERSION (v1.32.2, built from the Go module proxy: it
#               needs Go >= 1.26.10, GOTOOLCHAIN=TEMPORAL_GO_TOOLCHAIN go1.27.3), persistence and
#               visibility on the PostgreSQL pair (schemas set up by its own temporal-sql-tool),
#               TEMPORAL_SHARDS history shards (4), the namespace and search attributes
#               registered; frontend on PROD_TEMPORAL_PORT 7333; the Temporal UI (ui-server
#               TEMPORAL_UI_VERSION v2.42.1, the one the CLI embeds) on PROD_TEMPORAL_UI_PORT 8333.
#
# Writes $DATA/production/env: the settings `TOPOLOGY=production npm start` exports to the
# services. Idempotent: what is set up and running is kept. `npm run infra -- stop` stops it.
#
#   deploy/local/production.sh [up|status]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DATA="${ADBUDGET_DATA_DIR:-$ROOT/.data}"
P="$DATA/production"
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

read -r -a PG_PORTS <<<"${PROD_PG_PORTS:-5441 5442}"
PG_MONITOR_PORT="${PROD_PG_MONITOR_PORT:-5440}"
read -r -a NATS_PORTS <<<"${PROD_NATS_PORTS:-4241 4242 4243}"
NATS_SERVER_VERSION="${NATS_SERVER_VERSION:-v2.15.2}"
TEMPORAL_SERVER_VERSION="${TEMPORAL_SERVER_VERSION:-v1.32.2}"
TEMPORAL_GO_TOOLCHAIN="${TEMPORAL_GO_TOOLCHAIN:-go1.27.3}"
TEMPORAL_PORT="${PROD_TEMPORAL_PORT:-7333}"
TEMPORAL_SHARDS="${TEMPORAL_SHARDS:-4}"
TEMPORAL_UI_VERSION="${TEMPORAL_UI_VERSION:-v2.42.1}"
TEMPORAL_UI_PORT="${PROD_TEMPORAL_UI_PORT:-8333}"
WORKLOADS=(brand budget campaign clocks admin)

running() { [ -f "$DATA/run/$1.pid" ] && kill -0 "$(cat "$DATA/run/$1.pid")" 2>/dev/null; }

# ---------------------------------------------------------------- PostgreSQL (pg_auto_failover)
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
# pg_autoctl runs as postgres (PostgreSQL refuses root) with its state under $P/pg/xdg.
AS_PG=(env "PATH=$PG_BIN:$PATH" "XDG_CONFIG_HOME=$P/pg/xdg/config" "XDG_DATA_HOME=$P/pg/xdg/data" "XDG_RUNTIME_DIR=$P/pg/xdg/run")
[ "$(id -u)" = 0 ] && AS_PG=(runuser -u postgres -- "${AS_PG[@]}")
as_pg() { "${AS_PG[@]}" "$@"; }
monitor_sql() { psql -X -q -A -t -h 127.0.0.1 -p "$PG_MONITOR_PORT" -U postgres -d pg_auto_failover -c "$1"; }
pg_states() { monitor_sql "select nodename || ':' || reportedstate || ':' || goalstate from pgautofailover.node order by nodeid" 2>/dev/null || true; }

# Failure detection shortened from the monitor's defaults (~50 s to fail over, measured) to
# ~14 s: a node missed for 5 s is failed over; the old primary has 8 s to demote itself, more
# than the 5 s after which a primary cut off from monitor and standby refuses writes
# (network_partition_timeout), so the two never both take writes.
MONITOR_SETTINGS=(health_check_period=1000 health_check_timeout=1000 health_check_max_retries=1
  health_check_retry_delay=500 node_considered_unhealthy_timeout=5000 primary_demote_timeout=8000)

ensure_pg_pair() {
  ensure_pg_autoctl
  [ -n "$PG_BIN" ] || PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
  mkdir -p "$P/pg/xdg/config" "$P/pg/xdg/data" "$P/pg/xdg/run"
  [ "$(id -u)" = 0 ] && chown -R postgres "$P/pg"
  local common=(--auth trust --no-ssl --hostname 127.0.0.1 --pgctl "$PG_BIN/pg_ctl")
  if [ -d "$P/pg/monitor" ] && [ ! -f "$P/pg/monitor.ready" ]; then
    die "PostgreSQL: the monitor's creation did not finish earlier: stop everything (npm run infra -- stop), remove $P/pg, and run again"
  fi
  if [ ! -f "$P/pg/monitor.ready" ]; then
    say "PostgreSQL: creating the pg_auto_failover monitor on :$PG_MONITOR_PORT"
    as_pg pg_autoctl create monitor --pgdata "$P/pg/monitor" --pgport "$PG_MONITOR_PORT" "${common[@]}" >>"$DATA/logs/pg-create.log" 2>&1
    touch "$P/pg/monitor.ready"
  fi
  running pg-monitor || start_daemon pg-monitor "${AS_PG[@]}" pg_autoctl run --pgdata "$P/pg/monitor"
  wait_for "the pg_auto_failover monitor" 127.0.0.1 "$PG_MONITOR_PORT" 30
  for _ in $(seq 1 50); do monitor_sql "select 1" >/dev/null 2>&1 && break; sleep 0.2; done
  local s
  for s in "${MONITOR_SETTINGS[@]}"; do monitor_sql "alter system set pgautofailover.${s%%=*} = '${s#*=}'" >/dev/null; done
  monitor_sql "select pg_reload_conf()" >/dev/null
  local i name port
  for i in "${!PG_PORTS[@]}"; do
    name="node$((i + 1))" port=${PG_PORTS[$i]}
    # .adbudget-ready is written after the last step: a node whose creation was interrupted is
    # not taken for finished (pg_autoctl cannot resume it: remove its directory and run again).
    if [ -d "$P/pg/$name" ] && [ ! -f "$P/pg/$name.ready" ]; then
      die "PostgreSQL: $name's creation did not finish earlier: stop everything (npm run infra -- stop), remove $P/pg, and run again"
    fi
    if [ ! -f "$P/pg/$name.ready" ]; then
      say "PostgreSQL: creating $name on :$port ($([ "$i" = 0 ] && echo primary || echo "standby, cloned from the primary"))"
      as_pg pg_autoctl create postgres --pgdata "$P/pg/$name" --pgport "$port" --name "$name" \
        --monitor "postgres://autoctl_node@127.0.0.1:$PG_MONITOR_PORT/pg_auto_failover?sslmode=disable" \
        "${common[@]}" >>"$DATA/logs/pg-create.log" 2>&1
      as_pg pg_autoctl config set --pgdata "$P/pg/$name" timeout.network_partition_timeout 5 >/dev/null
      touch "$P/pg/$name.ready"
    fi
    running "pg-$name" || start_daemon "pg-$name" "${AS_PG[@]}" pg_autoctl run --pgdata "$P/pg/$name"
    # The standby is cloned from a running primary: the first node must be up before the next.
    for _ in $(seq 1 300); do grep -qE "^$name:(single|primary|wait_primary|secondary):" <<<"$(pg_states)" && break; sleep 0.2; done
  done
  for _ in $(seq 1 300); do
    s=$(pg_states)
    grep -q ":primary:primary" <<<"$s" && grep -q ":secondary:secondary" <<<"$s" && break
    sleep 0.2
  done
  grep -q ":secondary:secondary" <<<"$s" || die "PostgreSQL: no primary and secondary after 60 s: $(tr '\n' ' ' <<<"$s") (see $DATA/logs/pg-*.log)"
  say "PostgreSQL: $(tr '\n' ' ' <<<"$s")(synchronous: commits wait for the standby)"
}
pg_hosts() { local h=() p; for p in "${PG_PORTS[@]}"; do h+=("127.0.0.1:$p"); done; (IFS=,; echo "${h[*]}"); }
pg_primary_port() { monitor_sql "select nodeport from pgautofailover.node where reportedstate in ('primary','wait_primary','single') limit 1"; }

# ---------------------------------------------------------------- NATS (3 nodes, TLS, users)
ensure_nats_cluster() {
  command -v curl >/dev/null || apt_install curl
  local bin; bin="$(cached_go_tool nats-server github.com/nats-io/nats-server/v2 "$NATS_SERVER_VERSION" local "")/nats-server"
  bash "$ROOT/scripts/dev-certs.sh" "$DATA/tls" >/dev/null
  mkdir -p "$P/nats"
  local pw="$P/nats/passwords.env" w
  if [ ! -s "$pw" ]; then
    (umask 077; for w in "${WORKLOADS[@]}"; do echo "NATS_${w^^}_PASSWORD=$(openssl rand -hex 16)"; done >"$pw")
  fi
  # nats-server includes relative to the including file: a copy beside the configurations.
  cp "$ROOT/deploy/local/nats-auth.conf" "$P/nats/nats-auth.conf"
  local routes=() i
  for i in "${!NATS_PORTS[@]}"; do routes+=("\"nats-route://127.0.0.1:$((NATS_PORTS[i] + 2000))\""); done
  for i in "${!NATS_PORTS[@]}"; do
    local n="n$((i + 1))" port=${NATS_PORTS[$i]}
    cat >"$P/nats/$n.conf" <<CONF
server_name: $n
listen: 127.0.0.1:$port
http: 127.0.0.1:$((port + 4000))
jetstream { store_dir: "$P/nats/$n" }
tls { cert_file: "$DATA/tls/nats.pem", key_file: "$DATA/tls/nats-key.pem", ca_file: "$DATA/tls/ca.pem", timeout: 2 }
cluster {
  name: adbudget
  listen: 127.0.0.1:$((port + 2000))
  routes: [$(IFS=,; echo "${routes[*]}")]
  tls { cert_file: "$DATA/tls/nats.pem", key_file: "$DATA/tls/nats-key.pem", ca_file: "$DATA/tls/ca.pem", timeout: 2 }
}
include "nats-auth.conf"
CONF
    if ! running "nats-$n"; then
      say "NATS: starting $n on :$port (TLS, JetStream in $P/nats/$n)"
      start_daemon "nats-$n" env $(cat "$pw") "$bin" -c "$P/nats/$n.conf"
    fi
  done
  for port in "${NATS_PORTS[@]}"; do wait_for NATS 127.0.0.1 "$port" 20; done
  # Accepting connections is not serving JetStream: the servers elect a meta leader first, and a
  # stream's replicas catch up. /healthz (monitoring, on the client port + 4000) says when.
  for port in "${NATS_PORTS[@]}"; do
    for _ in $(seq 1 150); do curl -fsS -m 2 "http://127.0.0.1:$((port + 4000))/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
    curl -fsS -m 2 "http://127.0.0.1:$((port + 4000))/healthz" >/dev/null 2>&1 \
      || die "NATS on :$port: JetStream not healthy within 30 s, or no monitoring on :$((port + 4000)) (a server started by an older production.sh: npm run infra -- stop, then again; see $DATA/logs/nats-*.log)"
  done
  say "NATS: cluster of ${#NATS_PORTS[@]} ($bin, $("$bin" --version))"
}

# ---------------------------------------------------------------- Temporal server
ensure_temporal_server() {
  local dir; dir=$(cached_go_tool temporal-server go.temporal.io/server "$TEMPORAL_SERVER_VERSION" "$TEMPORAL_GO_TOOLCHAIN" /cmd/server /cmd/tools/sql)
  # The versioned schemas come with the module's source: copied beside the binaries once.
  local schemas="$dir/schema/postgresql/v12"
  if [ ! -d "$schemas" ]; then
    local src; src=$(cd /tmp && GOTOOLCHAIN="$TEMPORAL_GO_TOOLCHAIN" go mod download -json "go.temporal.io/server@$TEMPORAL_SERVER_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
    [ -d "$src/schema/postgresql/v12" ] || die "Temporal: no schemas in the module's source ($src)"
    mkdir -p "$dir/schema/postgresql" && cp -r "$src/schema/postgresql/v12" "$schemas.tmp" && mv "$schemas.tmp" "$schemas"
  fi
  local primary; primary=$(pg_primary_port)
  [ -n "$primary" ] || die "Temporal: the monitor names no primary now (a failover under way?): run again in a few seconds"
  local db sql=("$dir/sql" --plugin postgres12_pgx --ep 127.0.0.1 -p "$primary" -u postgres)
  # A cluster's shard count is fixed once it has data: each count gets its own databases, and a
  # server running with another count is replaced (the daypart bench compares 1, 4 and 16).
  local base="temporal_s$TEMPORAL_SHARDS"
  for db in "$base" "${base}_visibility"; do
    "${sql[@]}" --db "$db" create-database >/dev/null 2>&1 || true
    if ! psql -X -q -A -t -h 127.0.0.1 -p "$primary" -U postgres -d "$db" -c "select 1 from schema_version" 2>/dev/null | grep -q 1; then
      "${sql[@]}" --db "$db" setup-schema -v 0.0 >>"$DATA/logs/temporal-schema.log" 2>&1
    fi
    local kind=temporal; [ "$db" = "${base}_visibility" ] && kind=visibility
    "${sql[@]}" --db "$db" update-schema -d "$schemas/$kind/versioned" >>"$DATA/logs/temporal-schema.log" 2>&1 \
      || die "Temporal: schema update of $db failed (see $DATA/logs/temporal-schema.log)"
  done
  mkdir -p "$P/temporal"
  : >"$P/temporal/dynamicconfig.yaml"
  local store
  store() {
    cat <<YAML
      sql:
        pluginName: postgres12_pgx
        databaseName: $1
        connectAddr: "$(pg_hosts)"
        connectProtocol: tcp
        user: postgres
        connectAttributes: { target_session_attrs: read-write }
        maxConns: $2
        maxIdleConns: $2
        maxConnLifetime: 1h
YAML
  }
  local rpc port=$TEMPORAL_PORT
  cat >"$P/temporal/config.yaml" <<YAML
log: { stdout: true, level: warn }
persistence:
  defaultStore: default
  visibilityStore: visibility
  # Fixed once the cluster has data: changing it needs a new cluster (Temporal's rule).
  numHistoryShards: $TEMPORAL_SHARDS
  datastores:
    default:
$(store "$base" 20)
    visibility:
$(store "${base}_visibility" 4)
global:
  membership: { maxJoinDuration: 30s, broadcastAddress: 127.0.0.1 }
  metrics: { prometheus: { framework: tally, timerType: histogram, listenAddress: "127.0.0.1:$((port + 700))" } }
services:
  frontend: { rpc: { grpcPort: $port, membershipPort: $((port - 400)), bindOnLocalHost: true, httpPort: $((port + 10)) } }
  history: { rpc: { grpcPort: $((port + 1)), membershipPort: $((port - 399)), bindOnLocalHost: true } }
  matching: { rpc: { grpcPort: $((port + 2)), membershipPort: $((port - 398)), bindOnLocalHost: true } }
  worker: { rpc: { grpcPort: $((port + 6)), membershipPort: $((port - 394)), bindOnLocalHost: true } }
clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: active
  currentClusterName: active
  clusterInformation: { active: { enabled: true, initialFailoverVersion: 1, rpcName: frontend, rpcAddress: "127.0.0.1:$port" } }
dcRedirectionPolicy: { policy: noop }
dynamicConfigClient: { filepath: "$P/temporal/dynamicconfig.yaml", pollInterval: 10s }
YAML
  if running temporal-server && [ "$(cat "$P/temporal/shards" 2>/dev/null)" != "$TEMPORAL_SHARDS" ]; then
    say "Temporal: replacing the server running with $(cat "$P/temporal/shards" 2>/dev/null || echo other) shards"
    kill "$(cat "$DATA/run/temporal-server.pid")"
    for _ in $(seq 1 100); do running temporal-server || break; sleep 0.2; done
    for _ in $(seq 1 100); do reachable 127.0.0.1 "$port" || break; sleep 0.2; done
  fi
  echo "$TEMPORAL_SHARDS" >"$P/temporal/shards"
  if ! running temporal-server; then
    say "Temporal: starting the server $TEMPORAL_SERVER_VERSION on :$port ($TEMPORAL_SHARDS history shards, on PostgreSQL $(pg_hosts))"
    start_daemon temporal-server "$dir/server" --config-file "$P/temporal/config.yaml" --allow-no-auth start
  fi
  wait_for "the Temporal server" 127.0.0.1 "$port" 120
  # The CLI registers the namespace and search attributes: the one on PATH, else built once.
  local cli; cli=$(find_tool temporal) \
    || cli="$(cached_go_tool temporal-cli github.com/temporalio/cli "${TEMPORAL_CLI_VERSION:-v1.5.1}" local /cmd/temporal)/temporal"
  local addr="127.0.0.1:$port"
  for _ in $(seq 1 120); do "$cli" operator cluster health --address "$addr" >/dev/null 2>&1 && break; sleep 0.5; done
  "$cli" operator namespace describe --address "$addr" -n default >/dev/null 2>&1 \
    || "$cli" operator namespace create --address "$addr" -n default --retention 72h >/dev/null
  for _ in $(seq 1 60); do "$cli" operator search-attribute list --address "$addr" -n default >/dev/null 2>&1 && break; sleep 0.5; done
  local existing name; existing=$("$cli" operator search-attribute list --address "$addr" -n default 2>/dev/null || true)
  for name in BrandId CampaignId; do
    grep -qw "$name" <<<"$existing" || "$cli" operator search-attribute create --address "$addr" -n default --name "$name" --type Keyword >/dev/null
  done
  say "Temporal: server ready at $addr (namespace default, search attributes BrandId CampaignId)"
}

# ---------------------------------------------------------------- Temporal UI
# The UI server of the same version the Temporal CLI serves its dev server's UI with (its assets
# are in the module), pointed at the server: what operators watch the clocks in.
ensure_temporal_ui() {
  local dir; dir=$(cached_go_tool temporal-ui github.com/temporalio/ui-server/v2 "$TEMPORAL_UI_VERSION" local /cmd/server)
  mkdir -p "$P/temporal-ui/config"
  cat >"$P/temporal-ui/config/base.yaml" <<YAML
temporalGrpcAddress: 127.0.0.1:$TEMPORAL_PORT
host: 127.0.0.1
port: $TEMPORAL_UI_PORT
enableUi: true
defaultNamespace: default
cors: { cookieInsecure: false, allowOrigins: [], unsafeAllowAllOrigins: false }
YAML
  : >"$P/temporal-ui/config/production.yaml"
  if ! running temporal-ui; then
    say "Temporal UI: starting $TEMPORAL_UI_VERSION on http://127.0.0.1:$TEMPORAL_UI_PORT"
    start_daemon temporal-ui "$dir/server" --root "$P/temporal-ui" --config config --env production start
  fi
  wait_for "the Temporal UI" 127.0.0.1 "$TEMPORAL_UI_PORT" 30
}

# ---------------------------------------------------------------- the services' settings
write_env() {
  local nats=() port
  for port in "${NATS_PORTS[@]}"; do nats+=("tls://127.0.0.1:$port"); done
  # Sourced by start.sh: values quoted for the shell, the file the owner's alone (passwords).
  (
    umask 077
    echo "# Written by deploy/local/production.sh: the settings of the services on the production topology."
    printf '%s=%q\n' PG_URL "postgres://postgres@$(pg_hosts)?target_session_attrs=read-write" \
      NATS_URL "$(IFS=,; echo "${nats[*]}")" STREAM_REPLICAS 3 TEMPORAL_ADDRESS "127.0.0.1:$TEMPORAL_PORT" \
      TLS_DIR "$DATA/tls"
    cat "$P/nats/passwords.env"
  ) >"$P/env.tmp"
  mv "$P/env.tmp" "$P/env"
}

status() {
  echo "PostgreSQL: $(pg_states | tr '\n' ' ')"
  for port in "${NATS_PORTS[@]}"; do if reachable 127.0.0.1 "$port"; then echo "NATS up :$port"; else echo "NATS down :$port"; fi; done
  if reachable 127.0.0.1 "$TEMPORAL_PORT"; then echo "Temporal up :$TEMPORAL_PORT"; else echo "Temporal down :$TEMPORAL_PORT"; fi
  if reachable 127.0.0.1 "$TEMPORAL_UI_PORT"; then echo "Temporal UI up http://127.0.0.1:$TEMPORAL_UI_PORT"; else echo "Temporal UI down :$TEMPORAL_UI_PORT"; fi
}

mkdir -p "$DATA/logs" "$DATA/run"
case "${1:-up}" in
  up)
    ensure_pg_pair
    ensure_nats_cluster
    ensure_temporal_server
    ensure_temporal_ui
    write_env
    say "production topology ready; the services' settings: $P/env"
    ;;
  status) status ;;
  *) die "usage: $0 [up|status]" ;;
esac
