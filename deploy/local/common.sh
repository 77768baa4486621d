# Helpers of the local infrastructure scripts (infra.sh, production.sh): sourced, not run.
# The caller sets DATA (the data directory: logs/ and run/ go under it).

say() { printf '[infra] %s\n' "$*" >&2; }
die() { printf '[infra] ERROR: %s\n' "$*" >&2; exit 1; }

# reachable HOST PORT: true when something accepts TCP connections there.
reachable() { timeout 1 bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null; }

# wait_for NAME HOST PORT SECONDS
wait_for() {
  local name=$1 host=$2 port=$3 secs=$4 i
  for ((i = 0; i < secs * 5; i++)); do
    reachable "$host" "$port" && return 0
    sleep 0.2
  done
  die "$name did not come up on $host:$port within ${secs}s (see $DATA/logs/)"
}

go_bin_dir() { echo "$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"; }

# find_tool NAME: prints the path of a binary on PATH or in Go's bin directory.
find_tool() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return 0; fi
  if command -v go >/dev/null 2>&1 && [ -x "$(go_bin_dir)/$1" ]; then echo "$(go_bin_dir)/$1"; return 0; fi
  return 1
}

apt_install() {
  [ "$(id -u)" = 0 ] || die "cannot install $* without root; install it (apt-get install $*) and run again"
  command -v apt-get >/dev/null || die "no apt-get on this machine; install $* by hand and run again"
  say "installing $* with apt-get (one time)"
  if [ ! -f "$DATA/.apt-updated" ]; then
    apt-get update -qq >/dev/null && mkdir -p "$DATA" && touch "$DATA/.apt-updated"
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# start_daemon NAME CMD...: runs CMD in the background, detached, logging to .data/logs/NAME.log.
start_daemon() {
  local name=$1; shift
  mkdir -p "$DATA/logs" "$DATA/run"
  nohup setsid "$@" >"$DATA/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$DATA/run/$name.pid"
}

# version_ge A B: true when version A >= B.
version_ge() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -1)" = "$2" ]; }

# cached_go_tool NAME MODULE VERSION TOOLCHAIN PACKAGE...: prints the directory holding the
# binaries `go install` makes of PACKAGE... (MODULE@VERSION), built once per machine into
# ~/.cache/adbudget/NAME-VERSION (outside any checkout, so a fresh clone reuses it), atomically:
# a build that fails or is interrupted leaves nothing a later run would take for finished.
cached_go_tool() {
  local name=$1 module=$2 version=$3 toolchain=$4; shift 4
  local dir="${XDG_CACHE_HOME:-$HOME/.cache}/adbudget/$name-$version"
  if [ ! -d "$dir" ]; then
    command -v go >/dev/null || die "$name $version is not built and Go is missing to build it"
    local building="$dir.building.$$" pkgs=() p
    for p in "$@"; do pkgs+=("$module$p@$version"); done
    say "$name: building $version with go install (one time; GOTOOLCHAIN=$toolchain)"
    mkdir -p "$building"
    (cd /tmp && GOBIN="$building" GOTOOLCHAIN="$toolchain" go install "${pkgs[@]}" >&2) || { rm -rf "$building"; die "could not build $name $version"; }
    mv "$building" "$dir" 2>/dev/null || rm -rf "$building"
  fi
  echo "$dir"
}

# ensure_pg_autoctl: pg_auto_failover's keeper and monitor extension (Debian packages).
ensure_pg_autoctl() {
  command -v pg_autoctl >/dev/null && return 0
  local version; version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1 || true)
  [ -n "$version" ] || apt_install postgresql
  version=$(ls /usr/lib/postgresql | sort -V | tail -1 || true)
  apt_install "postgresql-$version-auto-failover" pg-auto-failover-cli
}
