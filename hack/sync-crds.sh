#!/usr/bin/env bash
# Copies the CRDs of crds/ (the source of truth) into the Helm chart, which installs them from
# charts/tokenwarden/crds/. test/unit/crds/drift.test.ts fails when the two differ.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/crds"
dst="$root/charts/tokenwarden/crds"
mkdir -p "$dst"
# Drop chart copies whose source is gone, then copy every source byte for byte.
for f in "$dst"/*.yaml; do
  [ -e "$f" ] || continue
  [ -e "$src/$(basename "$f")" ] || rm -f -- "$f"
done
cp -- "$src"/*.yaml "$dst"/
echo "synced $(find "$src" -maxdepth 1 -name '*.yaml' | wc -l) CRD(s) into ${dst#"$root"/}"
