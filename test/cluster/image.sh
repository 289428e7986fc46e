#!/usr/bin/env bash
# Checks the registry-free image with runc, as a kubelet would run it under the chart's
# securityContext: the image's own user (15080:15080), a read-only root filesystem, no
# capabilities, no network. `tokenwarden --help` must print its usage, and the process must
# really be UID/GID 15080 and unable to write to /.
#   test/cluster/image.sh OCI_LAYOUT TAG
set -euo pipefail
layout=$1 tag=$2
work=$(mktemp -d)
trap 'runc delete -f "tw-image-check-$$" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fail() { echo "image check: $*" >&2; exit 1; }

umoci unpack --image "$layout:$tag" "$work/bundle" >/dev/null
# umoci writes a runtime spec from the image config: user, entrypoint, cmd, env, working dir.
node - "$work/bundle/config.json" <<'JS'
const fs = require('node:fs');
const p = process.argv[2];
const spec = JSON.parse(fs.readFileSync(p, 'utf8'));
if (spec.process.user.uid !== 15080 || spec.process.user.gid !== 15080)
  throw new Error(`image user is ${spec.process.user.uid}:${spec.process.user.gid}, want 15080:15080`);
if (spec.process.args.join(' ') !== 'tokenwarden --help')
  throw new Error(`entrypoint + cmd is "${spec.process.args.join(' ')}", want "tokenwarden --help"`);
spec.root.readonly = true;
spec.process.terminal = false;
spec.process.noNewPrivileges = true;
for (const k of ['bounding', 'effective', 'inheritable', 'permitted', 'ambient']) spec.process.capabilities[k] = [];
fs.writeFileSync(p, JSON.stringify(spec));
// A second process in the same image: who am I, and can I write to the root filesystem?
spec.process.args = ['node', '-e', `
  const fs = require('node:fs');
  let writable = 'no';
  try { fs.writeFileSync('/app/x', 'x'); writable = 'yes'; } catch (e) { writable = e.code; }
  console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), writable, node: process.version }));`];
fs.writeFileSync(p.replace(/config\.json$/, 'probe.json'), JSON.stringify(spec));
JS

help=$(runc run --bundle "$work/bundle" "tw-image-check-$$" 2>&1 </dev/null) || fail "tokenwarden --help failed: $help"
grep -q "sidecar" <<<"$help" || fail "tokenwarden --help printed no usage: $help"
cp "$work/bundle/probe.json" "$work/bundle/config.json"
probe=$(runc run --bundle "$work/bundle" "tw-image-check-$$" 2>&1 </dev/null) || fail "probe failed: $probe"
grep -q '"uid":15080,"gid":15080' <<<"$probe" || fail "not UID/GID 15080: $probe"
grep -q '"writable":"EROFS"' <<<"$probe" || fail "the root filesystem is writable: $probe"
echo "ok: image $tag runs tokenwarden --help as 15080:15080 on a read-only root ($probe)"
