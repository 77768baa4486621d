# Shared by the npm scripts: run from the repository root with Node 24 first on PATH.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/node_modules/.bin:$PATH"

# Each step says how long the script has run (bash's SECONDS), so a slow step shows where it is.
log() { printf '\n==> [%ss] %s\n' "$SECONDS" "$*" >&2; }

# Installs npm dependencies when node_modules is missing or older than the lock file. The Node 24
# runtime itself comes from the `node` devDependency (this machine's system Node may be older).
ensure_deps() {
  if [ ! -x node_modules/.bin/node ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "installing dependencies (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
  local major; major=$(node -p 'process.versions.node.split(".")[0]')
  [ "$major" = 24 ] || { echo "Node 24 is required, found $(node --version) at $(command -v node)" >&2; exit 1; }
}

# Builds grpcurl once (go install), for the debugging-path tests and the README's examples.
ensure_grpcurl() {
  command -v grpcurl >/dev/null && return 0
  local gobin; gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
  [ -x "$gobin/grpcurl" ] && { export PATH="$PATH:$gobin"; return 0; }
  command -v go >/dev/null || { echo "grpcurl is missing and Go is not installed to build it" >&2; exit 1; }
  log "building grpcurl with go install (one time)"
  GOTOOLCHAIN=local go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.4
  export PATH="$PATH:$gobin"
}

# Says which servers deploy/local/infra.sh started for this project and left running (pid files
# under .data/run), and how to stop them: they are kept for the next run (a Temporal dev server
# takes seconds to start); servers that were already running are not ours and not listed.
report_left_running() {
  local f name pid left=()
  for f in "${ADBUDGET_DATA_DIR:-$ROOT/.data}"/run/*.pid; do
    [ -f "$f" ] || continue
    name=$(basename "$f" .pid)
    pid=$(cat "$f")
    kill -0 "$pid" 2>/dev/null && left+=("$name (pid $pid)")
  done
  if [ ${#left[@]} -gt 0 ]; then
    log "left running for the next run: ${left[*]}; stop them with: npm run infra -- stop"
  fi
}

# Installs the pinned Go protoc plugins of scripts/generate-go.sh (go install from the Go module
# proxy) into .tools/go/<plugin>@<version>/ (git-ignored) and puts them first on PATH. One
# directory per version, so a bumped pin installs afresh and a plugin in GOPATH/bin of another
# version is never used: the generated headers name the plugin's version, and `--check` would
# see drift.
ensure_go_plugins() {
  local spec name version dir
  command -v go >/dev/null || { echo "Go is required to generate the Go stubs" >&2; exit 1; }
  for spec in "$@"; do
    name="${spec%@*}"; name="${name##*/}"; version="${spec##*@}"
    dir="$ROOT/.tools/go/$name@$version"
    if [ ! -x "$dir/$name" ]; then
      log "installing $name $version with go install (one time)"
      GOTOOLCHAIN=local GOBIN="$dir" go install "$spec"
    fi
    export PATH="$dir:$PATH"
  done
}
