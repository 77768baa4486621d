#!/usr/bin/env bash
# Generates the Go stubs of proto/ (protoc-gen-go messages, protoc-gen-connect-go clients) into
# clients/go/gen with buf.gen.go.yaml. The stubs are committed (Go convention: `go get` of the
# SDK runs no generator), so `--check` regenerates into a temporary directory and fails on any
# difference with the committed tree: `npm test` runs it to catch a proto change whose Go stubs
# were not regenerated.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

# Pinned: the versions the committed stubs were generated with (their headers name them).
# protoc-gen-go matches the google.golang.org/protobuf runtime of clients/go/go.mod.
ensure_go_plugins \
  google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 \
  connectrpc.com/connect/cmd/protoc-gen-connect-go@v1.21.1

node scripts/proto-deps.mjs
GEN=clients/go/gen
case "${1:-}" in
  "")
    buf generate --template buf.gen.go.yaml
    ;;
  --check)
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    # The same template with its `out` moved: --output prefixes every plugin's out directory.
    buf generate --template buf.gen.go.yaml --output "$tmp"
    if ! diff -r "$GEN" "$tmp/$GEN" >&2; then
      echo "clients/go/gen is stale: run scripts/generate-go.sh and commit the result" >&2
      exit 1
    fi
    log "clients/go/gen is up to date"
    ;;
  *)
    echo "usage: scripts/generate-go.sh [--check]" >&2
    exit 2
    ;;
esac
