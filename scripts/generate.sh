#!/usr/bin/env bash
# Generates TypeScript from proto/ into proto/gen (buf generate, protoc-gen-es). The third-party
# protos the contract imports are materialized first from npm packages (scripts/proto-deps.mjs).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"
node scripts/proto-deps.mjs
buf generate
# The full descriptors, comments included, for gRPC reflection: protoc-gen-es embeds descriptors
# without source info, and `grpcurl describe` should show the API docs written in the protos.
buf build -o proto/gen/descriptors.binpb
