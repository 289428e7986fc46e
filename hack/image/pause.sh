#!/usr/bin/env bash
# Packs the pause binary (built from Kubernetes' build/pause/linux/pause.c by
# hack/k8s-testbin/node.sh) as a one-layer OCI image archive for containerd's sandboxes.
#   hack/image/pause.sh PAUSE_BINARY IMAGE_REF OUT_TAR
set -euo pipefail
bin=$1 ref=$2 out=$3
tag=${ref##*:}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
umoci init --layout "$work/oci"
umoci new --image "$work/oci:$tag"
umoci unpack --image "$work/oci:$tag" "$work/bundle" >/dev/null
install -m 0755 "$bin" "$work/bundle/rootfs/pause"
umoci repack --image "$work/oci:$tag" --history.created_by "pause.c, gcc -static" "$work/bundle"
umoci config --image "$work/oci:$tag" --config.user 65535:65535 --config.entrypoint /pause
umoci gc --layout "$work/oci"
node -e '
  const fs = require("node:fs"); const p = process.argv[1] + "/index.json";
  const idx = JSON.parse(fs.readFileSync(p, "utf8"));
  for (const m of idx.manifests) m.annotations = { ...m.annotations, "io.containerd.image.name": process.argv[2] };
  fs.writeFileSync(p, JSON.stringify(idx));' "$work/oci" "$ref"
tar -C "$work/oci" -cf "$out" .
