#!/usr/bin/env bash
# The inside of bench/pull.sh's box, run as PID 1 of a fresh PID namespace; not meant to be run by hand.
#   pull-box.sh MINOTAUR RUNS TMPDIR OUT-PREFIX BENCH-DIR [OLD-MINOTAUR]
set -euo pipefail
bin=$1 runs=$2 tmp=$3 out=$4 bench=$5 old=${6:-}
say() { printf '%s\n' "$*"; }
. "$bench/box.sh"
private_box "$tmp"
podman_private "$tmp"
export DOCKER_CONFIG=$tmp/docker
mkdir -p "$DOCKER_CONFIG" && echo '{}' >"$DOCKER_CONFIG/config.json"

# Registries on the box's loopback: 5000 holds the fixtures; 5001 is started empty before each push.
pids=()
regconf() {
  mkdir -p "$tmp/registry-$1"
  cat >"$tmp/registry-$1.yml" <<EOC
version: 0.1
log: {level: error, accesslog: {disabled: false}}
storage: {filesystem: {rootdirectory: $tmp/registry-$1}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$1}
EOC
}
registry() {
  local port=$1 dir=$tmp/registry-$1
  regconf "$port"
  docker-registry serve "$dir.yml" >"$dir.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/v2/" >/dev/null && return; sleep 0.1; done
  say "registry on port $port did not start"; exit 1
}
teardown() { set +e; podman rmi -a -f >/dev/null 2>&1; kill "${pids[@]}" 2>/dev/null; wait; }
trap teardown EXIT
registry 5000
R=127.0.0.1:5000

say "# fixtures"
for f in eight big-gzip big-zstd; do
  case $f in eight) python3 "$bench/pullfix.py" eight "$tmp/fix-$f" ;; *) python3 "$bench/pullfix.py" big "$tmp/fix-$f" "${f#big-}" ;; esac
  skopeo copy -q --dest-tls-verify=false "oci:$tmp/fix-$f:1" "docker://$R/bench/$f:1"
  rm -rf "$tmp/fix-$f"
done
du -sh "$tmp/registry-5000" | sed 's/^/registry storage: /'
blob() { curl -s -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://$R/v2/bench/$1/manifests/1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["layers"][0]["digest"])'; }
gz=$(blob big-gzip) zs=$(blob big-zstd)

M="env MINOTAUR_ROOT=$tmp/m $bin"
mreset="rm -rf $tmp/m"
preset="podman rmi -a -f"
sreset="rm -rf $tmp/skopeo"
freset="rm -rf $tmp/floor; mkdir $tmp/floor"
say
say "# cold pull of 8 layers (~300 MB), and the big layer (1 GiB uncompressed) against the decompression floor"
say "# (which writes nothing) and the extraction floor (which writes the tree but keeps no blob and hashes nothing)"
python3 "$bench/resetit.py" -n "$runs" --json "$out.pull.json" \
  --pair "pull 8 layers vs podman pull" "$M pull -q $R/bench/eight:1" "$mreset" \
    "podman pull -q --tls-verify=false $R/bench/eight:1" "$preset" \
  --pair "pull 8 layers vs skopeo copy (no extract)" "$M pull -q $R/bench/eight:1" "$mreset" \
    "skopeo copy -q --src-tls-verify=false docker://$R/bench/eight:1 oci:$tmp/skopeo:1" "$sreset" \
  --pair "pull big gzip vs curl | gzip -dc" "$M pull -q $R/bench/big-gzip:1" "$mreset" \
    "curl -s http://$R/v2/bench/big-gzip/blobs/$gz | gzip -dc >/dev/null" "" \
  --pair "pull big zstd vs curl | zstd -dc" "$M pull -q $R/bench/big-zstd:1" "$mreset" \
    "curl -s http://$R/v2/bench/big-zstd/blobs/$zs | zstd -dc >/dev/null" "" \
  --pair "pull big gzip vs curl | gzip -dc | tar -x" "$M pull -q $R/bench/big-gzip:1" "$mreset" \
    "curl -s http://$R/v2/bench/big-gzip/blobs/$gz | gzip -dc | tar -x -C $tmp/floor" "$freset" \
  --pair "pull big zstd vs curl | zstd -dc | tar -x" "$M pull -q $R/bench/big-zstd:1" "$mreset" \
    "curl -s http://$R/v2/bench/big-zstd/blobs/$zs | zstd -dc | tar -x -C $tmp/floor" "$freset"
if [ -n "$old" ]; then
  O="env MINOTAUR_ROOT=$tmp/o $old"
  oreset="rm -rf $tmp/o"
  say
  say "# the same pulls, this build against the old one ($old)"
  python3 "$bench/resetit.py" -n "$runs" --json "$out.old.json" \
    --pair "pull 8 layers, new vs old" "$M pull -q $R/bench/eight:1" "$mreset" "$O pull -q $R/bench/eight:1" "$oreset" \
    --pair "pull big gzip, new vs old" "$M pull -q $R/bench/big-gzip:1" "$mreset" "$O pull -q $R/bench/big-gzip:1" "$oreset" \
    --pair "pull big zstd, new vs old" "$M pull -q $R/bench/big-zstd:1" "$mreset" "$O pull -q $R/bench/big-zstd:1" "$oreset"
  rm -rf "$tmp/o"
fi

say
say "# up-to-date re-pull (the image is present), and what it asked the registry"
$M pull -q "$R/bench/eight:1" >/dev/null
python3 "$bench/timeit.py" -n "$runs" -w 2 --json "$out.repull.json" \
  --solo "re-pull, up to date" "$M pull -q $R/bench/eight:1"
n=$(wc -l <"$tmp/registry-5000.log")
$M pull -q "$R/bench/eight:1" >/dev/null
tail -n +$((n + 1)) "$tmp/registry-5000.log" | grep -o '"[A-Z]* /v2/[^ ]*' | sed 's/^"/request: /'

say
say "# push of the 8-layer image to an empty registry"
$M pull -q "$R/bench/eight:1" >/dev/null
podman pull -q --tls-verify=false "$R/bench/eight:1" >/dev/null
regconf 5001
empty="[ -f $tmp/r5001.pid ] && kill -9 \$(cat $tmp/r5001.pid) 2>/dev/null; rm -rf $tmp/registry-5001; mkdir -p $tmp/registry-5001; \
(setsid docker-registry serve $tmp/registry-5001.yml >/dev/null 2>&1 & echo \$! >$tmp/r5001.pid); \
until curl -sf http://127.0.0.1:5001/v2/ >/dev/null; do sleep 0.05; done"
python3 "$bench/resetit.py" -n "$runs" --json "$out.push.json" \
  --pair "push 8 layers vs podman push" "$M push -q 127.0.0.1:5001/bench/eight:1" \
    "$M tag $R/bench/eight:1 127.0.0.1:5001/bench/eight:1; $empty" \
    "podman push -q --tls-verify=false $R/bench/eight:1 docker://127.0.0.1:5001/bench/eight:1" "$empty"
[ -f "$tmp/r5001.pid" ] && kill -9 "$(cat "$tmp/r5001.pid")" 2>/dev/null || true
