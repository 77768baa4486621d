#!/usr/bin/env bash
# `buf breaking` (FILE rules) of proto/ against a git ref, default the previous commit.
#
# The against-input cannot be `.git#ref=...` directly: the third-party protos in .proto-deps/ are
# made from npm packages and are not in git. So the old tree is exported, given today's
# .proto-deps, built into an image, and compared with the working tree.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ref="${1:-HEAD~1}"
if ! git cat-file -e "$ref:buf.yaml" 2>/dev/null; then
  echo "buf breaking: $ref has no buf.yaml, nothing to compare against" >&2
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
git archive "$ref" buf.yaml proto | tar -x -C "$tmp"
cp -r .proto-deps "$tmp/.proto-deps"
buf build "$tmp/proto" -o "$tmp/before.binpb"
buf breaking proto --against "$tmp/before.binpb"
echo "buf breaking: no breaking change against $ref" >&2
