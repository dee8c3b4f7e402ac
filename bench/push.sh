#!/usr/bin/env bash
# Push of a ~170 MB image (busybox plus a layer of /usr/lib files: binaries, realistic to
# compress) to Debian's docker-registry on loopback, each run into a fresh registry
# (hyperfine --prepare restarts it on an empty store):
#   lindocker push             (its gzip blob made once and kept: the push itself)
#   lindocker push, cold       (the kept blob forgotten: gzip + push, a first push)
#   skopeo copy oci:DIR        (the same image as an OCI layout with gzip layers)
#   skopeo copy docker-archive (uncompressed layers: skopeo compresses each time)
#   docker push                (dockerd started here, if installed; compresses each time)
# Everything runs in a network namespace of its own (registry, dockerd, clients), so no
# traffic and no daemon touches this host's network. Prints medians and ratios; target:
# lindocker push at most skopeo's time (from the OCI layout).
#
# Usage: bench/push.sh [RUNS]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-5}
for t in docker-registry skopeo hyperfine python3 ip; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/install.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/lindocker-bench-push.XXXXXX)
run=$(run_dir lindocker-bench-push)
cg="lindocker-bench-push-$$"
ns="lindocker-bench-push-$$"
pids=()
cleanup() {
  [ -f "$work/registry.pid" ] && kill "$(cat "$work/registry.pid")" 2>/dev/null || true
  [ -f "$run/dockerd.pid" ] && kill "$(cat "$run/dockerd.pid")" 2>/dev/null || true
  [ -f "$run/containerd.pid" ] && kill "$(cat "$run/containerd.pid")" 2>/dev/null || true
  sleep 1
  remove_work "$work" "${pids[@]}"
  remove_work "$run"
  ip netns del "$ns" 2>/dev/null || true
  remove_cgroups "$cg"
  remove_cgroups "$cg-dockerd"
}
trap cleanup EXIT
log() { printf '%s\n' "$*" >&2; }
ip netns add "$ns"
in_ns() { nsenter --net="/run/netns/$ns" -- "$@"; }
in_ns ip link set lo up
export LINDOCKER_ROOT=$work/ld LINDOCKER_STATE=$run/ld-state LINDOCKER_CGROUP_PARENT=/$cg
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"

port=5000
reg=127.0.0.1:$port
# fresh_registry: (re)starts the registry on an empty store (run by hyperfine --prepare).
cat > "$work/fresh-registry.sh" <<SCRIPT
#!/usr/bin/env bash
set -eu
if [ -f "$work/registry.pid" ]; then
  kill "\$(cat "$work/registry.pid")" 2>/dev/null || true
  while kill -0 "\$(cat "$work/registry.pid")" 2>/dev/null; do sleep 0.02; done
fi
rm -rf "$work/registry/data"
mkdir -p "$work/registry"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
  "$work/registry/data" "$reg" > "$work/registry/config.yml"
nsenter --net="/run/netns/$ns" -- setsid docker-registry serve "$work/registry/config.yml" >>"$work/registry/log" 2>&1 </dev/null &
echo \$! > "$work/registry.pid"
for _ in \$(seq 200); do nsenter --net="/run/netns/$ns" -- bash -c '(exec 3<>/dev/tcp/127.0.0.1/$port)' 2>/dev/null && exit 0; sleep 0.02; done
echo "registry did not start" >&2; exit 1
SCRIPT
chmod +x "$work/fresh-registry.sh"
"$work/fresh-registry.sh"

# The image: busybox, and a layer of ~170 MB of /usr/lib files (shared objects, binaries).
seed=$work/seed
busybox_rootfs "$seed/bb" "$seed/bb.tar"
python3 - "$seed/files" <<'PY'
import os, sys
total, out = 0, []
for root, dirs, files in os.walk("/usr/lib"):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(root, f)
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        total += os.path.getsize(p)
        out.append(p.lstrip("/"))
        if total >= 170_000_000:
            break
    if total >= 170_000_000:
        break
open(sys.argv[1], "w").write("\n".join(out) + "\n")
PY
mkdir -p "$seed/big"
tar -C / -cf - -T "$seed/files" | tar -C "$seed/big" -xf -
"$ld" import -c 'CMD ["sh"]' "$seed/bb.tar" bench/busybox:1 >/dev/null
"$ld" run --name mk --network none -v "$seed/big:/src:ro" bench/busybox:1 cp -a /src/usr /usr-copy >/dev/null
"$ld" commit mk "$reg/bench/big:1" >/dev/null
"$ld" rm mk >/dev/null
rm -rf "$seed/big"
"$ld" save -o "$seed/big.archive" "$reg/bench/big:1"
size_mb=$(( $(stat -c %s "$seed/big.archive") / 1000000 ))
skopeo copy --quiet --dest-compress-format gzip "docker-archive:$seed/big.archive" "oci:$seed/oci:big" 2>/dev/null \
  || skopeo copy --quiet --dest-compress "docker-archive:$seed/big.archive" "oci:$seed/oci:big"
log "image: $reg/bench/big:1, $size_mb MB uncompressed (2 layers)"

results=()
bench() { # name prepare command
  hyperfine --style none --runs "$runs" --warmup 1 --prepare "$2" \
    --export-json "$work/$1.json" -n "$1" "$3" >&2
  results+=("$1")
}
fresh=$work/fresh-registry.sh
ldpush="nsenter --net=/run/netns/$ns -- $ld push -q $reg/bench/big:1"
bench lindocker "$fresh" "$ldpush"
bench lindocker-cold "rm -rf $LINDOCKER_ROOT/image/blobmeta && $fresh" "$ldpush"
bench skopeo-oci "$fresh" "nsenter --net=/run/netns/$ns -- skopeo copy --quiet --dest-tls-verify=false oci:$seed/oci:big docker://$reg/bench/big:1"
bench skopeo-archive "$fresh" "nsenter --net=/run/netns/$ns -- skopeo copy --quiet --dest-tls-verify=false --dest-compress docker-archive:$seed/big.archive docker://$reg/bench/big:1"

if command -v dockerd >/dev/null && command -v docker >/dev/null; then
  dsock=$run/dockerd.sock
  # nsenter execs the daemon: $! is its pid.
  nsenter --net="/run/netns/$ns" -- containerd --root "$work/containerd" --state "$run/containerd" \
    --address "$run/containerd.sock" >"$work/containerd.log" 2>&1 &
  echo $! > "$run/containerd.pid"
  for _ in $(seq 100); do [ -S "$run/containerd.sock" ] && break; sleep 0.1; done
  nsenter --net="/run/netns/$ns" -- dockerd --data-root "$work/dockerd" --exec-root "$run/dockerd-exec" --pidfile "$run/dockerd.pid" \
    -H "unix://$dsock" --containerd "$run/containerd.sock" --bridge none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --cgroup-parent "/$cg-dockerd" >"$work/dockerd.log" 2>&1 &
  ok=""
  for _ in $(seq 150); do DOCKER_HOST=unix://$dsock docker info >/dev/null 2>&1 && { ok=1; break; }; sleep 0.2; done
  if [ -n "$ok" ]; then
    DOCKER_HOST=unix://$dsock docker load -q -i "$seed/big.archive" >/dev/null
    DOCKER_HOST=unix://$dsock bench docker "$fresh" "docker push -q $reg/bench/big:1"
  else
    log "dockerd did not start (see $work/dockerd.log); docker not measured"
  fi
fi

median() { python3 -c 'import json,sys; print("%.0f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"; }
declare -A ms
for r in "${results[@]}"; do ms[$r]=$(median "$work/$r.json"); done
echo "push of a $size_mb MB image (2 layers) into a fresh loopback registry, median of $runs:"
for r in "${results[@]}"; do
  printf '  %-16s %6s ms  (%.2fx skopeo from an OCI layout)\n' "$r" "${ms[$r]}" \
    "$(python3 -c "print(${ms[$r]}/${ms[skopeo-oci]})")"
done
