#!/usr/bin/env bash
# Builds the tokenwarden image without a container registry or Docker, as an OCI image:
#
#   hack/image/build.sh [OUT_DIR]     prints OUT_DIR; OUT_DIR/oci is the OCI layout and
#                                     OUT_DIR/tokenwarden.tar the same layout as one archive
#                                     (`ctr -n k8s.io images import` reads it)
#
# Layer 1: a Debian root filesystem from `debootstrap --variant=minbase` of $SUITE plus nodejs
#          and iptables (nothing else), cached under ~/.cache/tokenwarden/image/ by a hash of its
#          inputs (suite, mirror, packages, this script).
# Layer 2: what the Dockerfile's runtime stage copies: dist/cmd, dist/src, the production
#          node_modules (`npm ci --omit=dev`), package.json, crds/, and /usr/local/bin/tokenwarden.
# Config:  the Dockerfile's user (15080:15080), entrypoint, command, env, ports and labels.
#
# Needs root, debootstrap, umoci and npm. Debian 13 is the first suite whose nodejs satisfies
# package.json's engines (>=20.19); the script checks the version it installed.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=${TOKENWARDEN_IMAGE_SUITE:-trixie}
MIRROR=${TOKENWARDEN_IMAGE_MIRROR:-http://deb.debian.org/debian}
PACKAGES=nodejs,iptables
IMAGE_REF=${TOKENWARDEN_IMAGE_REF:-tokenwarden.local/tokenwarden:dev}
out=${1:-$root/.image}
cache=${XDG_CACHE_HOME:-$HOME/.cache}/tokenwarden/image
log() { printf '[image] %s\n' "$*" >&2; }
for tool in debootstrap umoci npm tar sha256sum; do
  command -v "$tool" >/dev/null || { log "$tool is required (apt-get install debootstrap umoci)"; exit 1; }
done
[ "$(id -u)" = 0 ] || { log "debootstrap needs root"; exit 1; }
mkdir -p "$cache" "$out"

# --- layer 1: the Debian root filesystem, cached by the hash of its inputs
key=$(printf '%s\n' "$SUITE" "$MIRROR" "$PACKAGES" "$(sha256sum "$0" | cut -c1-64)" | sha256sum | cut -c1-16)
rootfs_tar="$cache/rootfs-$SUITE-$key.tar"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "/usr/share/keyrings/debian-archive-$SUITE-automatic.gpg" ] && keyring=/usr/share/keyrings/debian-archive-$SUITE-automatic.gpg
if [ ! -f "$rootfs_tar" ]; then
  exec 9>"$cache/.lock"
  flock 9
  if [ ! -f "$rootfs_tar" ]; then
    tmp=$(mktemp -d "$cache/rootfs.XXXX")
    log "debootstrap --variant=minbase $SUITE + $PACKAGES (cold: a few minutes)"
    debootstrap --variant=minbase --keyring="$keyring" --include="$PACKAGES" "$SUITE" "$tmp" "$MIRROR" >"$cache/debootstrap.log" 2>&1 ||
      { tail -20 "$cache/debootstrap.log" >&2; rm -rf "$tmp"; exit 1; }
    # What a runtime image does not need: apt's lists and archives, docs, man pages, locales.
    rm -rf "$tmp"/var/lib/apt/lists/* "$tmp"/var/cache/apt/*.bin "$tmp"/var/cache/apt/archives/*.deb \
      "$tmp"/usr/share/doc/* "$tmp"/usr/share/man/* "$tmp"/usr/share/info/* "$tmp"/var/log/* \
      "$tmp"/usr/share/locale/*
    tar --numeric-owner -C "$tmp" -cf "$rootfs_tar.tmp" .
    rm -rf "$tmp"
    mv "$rootfs_tar.tmp" "$rootfs_tar"
  fi
  exec 9>&-
fi

# --- layer 2 contents: the application, staged like the Dockerfile's runtime stage
log "npm run build; npm ci --omit=dev"
(cd "$root" && npm run build >/dev/null)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/app/dist" "$stage/usr/local/bin"
cp "$root/package.json" "$root/package-lock.json" "$stage/app/"
(cd "$stage/app" && npm ci --omit=dev --no-audit --no-fund --ignore-scripts >/dev/null)
rm "$stage/app/package-lock.json"
cp -r "$root/dist/cmd" "$root/dist/src" "$stage/app/dist/"
cp -r "$root/crds" "$stage/app/crds"
chmod 0755 "$stage/app/dist/cmd/tokenwarden.js"
ln -s /app/dist/cmd/tokenwarden.js "$stage/usr/local/bin/tokenwarden"
chmod 0755 "$stage"
chown -R 0:0 "$stage"

# --- the OCI image: umoci new, one repack per layer, then the image config
version=$(node -p 'require(process.argv[1]).version' "$root/package.json")
tag=${IMAGE_REF##*:}
rm -rf "$out/oci" "$out/bundle"
umoci init --layout "$out/oci"
umoci new --image "$out/oci:$tag"
umoci unpack --image "$out/oci:$tag" "$out/bundle" >/dev/null
tar --numeric-owner -C "$out/bundle/rootfs" -xf "$rootfs_tar"
node_version=$(chroot "$out/bundle/rootfs" /usr/bin/node --version)
node -e 'const [a,b]=process.argv[1].slice(1).split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' "$node_version" ||
  { log "$SUITE ships node $node_version; package.json needs >=20.19"; exit 1; }
umoci repack --refresh-bundle --image "$out/oci:$tag" --history.created_by "debootstrap --variant=minbase $SUITE + $PACKAGES" "$out/bundle"
cp -a "$stage/." "$out/bundle/rootfs/"
umoci repack --image "$out/oci:$tag" --history.created_by "tokenwarden $version: dist, production node_modules" "$out/bundle"
rm -rf "$out/bundle"
umoci config --image "$out/oci:$tag" \
  --config.user 15080:15080 --config.workingdir /app \
  --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --config.env NODE_ENV=production \
  --config.entrypoint tokenwarden --config.cmd --help \
  --config.exposedports 15080/tcp --config.exposedports 15090/tcp \
  --config.exposedports 15091/tcp --config.exposedports 15443/tcp \
  --config.label org.opencontainers.image.title=tokenwarden \
  --config.label org.opencontainers.image.version="$version" \
  --config.label org.opencontainers.image.licenses=Apache-2.0 \
  --config.label org.opencontainers.image.base.name="debian:$SUITE (debootstrap minbase)" \
  --config.label dev.tokenwarden.node-version="$node_version"
umoci gc --layout "$out/oci"
# ctr names the imported image after this annotation.
node -e '
  const fs = require("node:fs"); const p = process.argv[1] + "/index.json";
  const idx = JSON.parse(fs.readFileSync(p, "utf8"));
  for (const m of idx.manifests) m.annotations = { ...m.annotations, "io.containerd.image.name": process.argv[2] };
  fs.writeFileSync(p, JSON.stringify(idx));' "$out/oci" "$IMAGE_REF"
tar -C "$out/oci" -cf "$out/tokenwarden.tar" .
log "$IMAGE_REF: node $node_version, $(du -sm "$out/oci/blobs" | cut -f1) MB compressed, $(du -sm "$out/tokenwarden.tar" | cut -f1) MB archive"
echo "$out"
