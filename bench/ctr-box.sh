#!/usr/bin/env bash
# The inside of bench/ctr.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   ctr-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5
. "$bench/box.sh"
private_box "$tmp"

# --- minotaur-runc: the binary under that name ---
ln -s "$bin" "$tmp/minotaur-runc"

# --- a busybox image as an OCI archive: layer, config, manifest and index ---
busybox=$(command -v busybox)
! ldd "$busybox" >/dev/null 2>&1 || { echo "busybox is not static: install busybox-static" >&2; exit 1; }
mkdir -p "$tmp/rootfs/bin" "$tmp/oci/blobs/sha256"
cp "$busybox" "$tmp/rootfs/bin/busybox"
for a in true sh; do ln -s busybox "$tmp/rootfs/bin/$a"; done
tar -C "$tmp/rootfs" -cf "$tmp/layer.tar" .
python3 - "$tmp/layer.tar" "$tmp/oci" <<'PY'
import hashlib, json, os, shutil, sys
layer, oci = sys.argv[1:]
def blob(data):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(oci, "blobs/sha256", d), "wb").write(data)
    return {"digest": "sha256:" + d, "size": len(data)}
lay = blob(open(layer, "rb").read())
arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(os.uname().machine, os.uname().machine)
cfg = blob(json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["sh"]},
                       "rootfs": {"type": "layers", "diff_ids": [lay["digest"]]}}).encode())
man = blob(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": dict(cfg, mediaType="application/vnd.oci.image.config.v1+json"),
                       "layers": [dict(lay, mediaType="application/vnd.oci.image.layer.v1.tar")]}).encode())
index = {"schemaVersion": 2, "manifests": [dict(man, mediaType="application/vnd.oci.image.manifest.v1+json",
         annotations={"org.opencontainers.image.ref.name": "localhost/bench:latest"})]}
json.dump(index, open(os.path.join(oci, "index.json"), "w"))
json.dump({"imageLayoutVersion": "1.0.0"}, open(os.path.join(oci, "oci-layout"), "w"))
PY
tar -C "$tmp/oci" -cf "$tmp/image.tar" oci-layout index.json blobs

# --- containerd: root, state and socket under $tmp; no CRI plugin ---
mkdir -p "$tmp/containerd"
cat >"$tmp/containerd/config.toml" <<EOC
version = 2
root = "$tmp/containerd/root"
state = "$tmp/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$tmp/containerd/sock"
[ttrpc]
  address = "$tmp/containerd/sock.ttrpc"
EOC
containerd --config "$tmp/containerd/config.toml" >"$tmp/containerd/log" 2>&1 &
ctr="ctr --address $tmp/containerd/sock"
for _ in $(seq 200); do $ctr version >/dev/null 2>&1 && break; sleep 0.05; done
$ctr image import "$tmp/image.tar" >/dev/null

run() { # BINARY NAME: one `ctr run --rm ... true` with BINARY as the shim's runc
  echo "$ctr run --rm --runtime io.containerd.runc.v2 --runc-binary $1 --cgroup /minotaur-bench-ctr/$2 localhost/bench:latest $2 true"
}
echo "ctr run --rm true, $runs runs (medians, ms)"
python3 "$bench/timeit.py" -n "$runs" -w 3 --json "$out.json" \
  --pair "ctr run --rm true: runc" "$(run "$tmp/minotaur-runc" bench-m)" "$(run /usr/sbin/runc bench-r)"
