#!/usr/bin/env bash
# The engine against Docker and Podman, in one run, rounds interleaved:
#   1. `run --rm busybox true`: lindocker, docker (dockerd started here), podman, and the
#      bare `lindocker-runtime run` of the same config.json lindocker generates;
#   2. 100 containers: `run -d ... sleep`, then `ps`, then `rm -f` of all (one round each);
#      and `ps` with those 100 containers, timed alone;
#   3. `exec CONTAINER true`;
#   4. the RSS of a lindocker shim.
# Everything runs with --network none (networks cost: bench/network.sh) and each engine's
# default seccomp profile; every engine keeps its run-time state on a tmpfs (run_dir in
# lib.sh), its images and containers under /tmp. Podman runs runc: the Debian crun
# refuses this hybrid cgroup host. Prints medians and ratios.
#
# With LINDOCKER_BASELINE=DIR (a directory holding an earlier build's lindocker,
# lindocker-shim and lindocker-runtime), that build runs too, as `lindocker-baseline`,
# interleaved with the others for `run --rm` and `exec`, on a data root of its own: a
# change's cost measured in one run on one machine state.
#
# Usage: [LINDOCKER_BASELINE=DIR] bench/engine.sh [ROUNDS]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:-20}

work=$(mktemp -d /tmp/lindocker-bench-engine.XXXXXX)
run=$(run_dir lindocker-bench-engine)
cg="lindocker-bench-engine-$$"
pids=()
cleanup() {
  "$ld" rm -f $("$ld" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ -z "${base:-}" ] || env "${base_env[@]}" "$base/lindocker" rm -f b1 >/dev/null 2>&1 || true
  remove_work "$work" "${pids[@]}"
  remove_work "$run"
  remove_cgroups "$cg"
}
trap cleanup EXIT
log() { printf '%s\n' "$*" >&2; }
export LINDOCKER_ROOT=$work/ld LINDOCKER_STATE=$run/ld-state LINDOCKER_CGROUP_PARENT=/$cg

# busybox, for every engine.
busybox_rootfs "$work/rootfs" "$work/busybox.tar"
"$ld" import -c 'CMD ["sh"]' "$work/busybox.tar" localhost/busybox >/dev/null

# The bare runtime runs the very config.json lindocker writes, on a plain copy of the rootfs.
id=$("$ld" create --network none localhost/busybox true)
mkdir -p "$work/bundle"
python3 - "$LINDOCKER_ROOT/containers/$id/bundle/config.json" "$work/bundle/config.json" "$work/rootfs" "/$cg/bare" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["root"]["path"] = sys.argv[3]
c["linux"]["cgroupsPath"] = sys.argv[4]
# lindocker's shim binds each container's network namespace; the bare runtime makes its own.
for ns in c["linux"]["namespaces"]:
    ns.pop("path", None)
# The /etc files lindocker binds live in the container's directory, gone after `rm`.
c["mounts"] = [m for m in c["mounts"] if not m["destination"].startswith("/etc/")]
json.dump(c, open(sys.argv[2], "w"))
PY
"$ld" rm "$id" >/dev/null

tools=(lindocker lindocker-runtime)
base=${LINDOCKER_BASELINE:-}
base_env=()
if [ -n "$base" ]; then
  base_env=(LINDOCKER_ROOT="$work/ld-base" LINDOCKER_STATE="$run/ld-base-state" LINDOCKER_CGROUP_PARENT="/$cg/base")
  env "${base_env[@]}" "$base/lindocker" import -c 'CMD ["sh"]' "$work/busybox.tar" localhost/busybox >/dev/null
  env "${base_env[@]}" "$base/lindocker" run -d --network none --name b1 localhost/busybox sleep 1000 >/dev/null
  tools+=(lindocker-baseline)
fi
podman_config "$work" "$run"
podman_() { podman "${podman_args[@]}" "$@"; }
if command -v podman >/dev/null && command -v runc >/dev/null; then
  podman_ import -q "$work/busybox.tar" localhost/busybox >/dev/null && tools+=(podman)
fi
if command -v dockerd >/dev/null && command -v containerd >/dev/null; then
  containerd --root "$work/ctd/root" --state "$run/ctd/state" --address "$work/ctd.sock" >"$work/containerd.log" 2>&1 & pids+=($!)
  for _ in $(seq 100); do [ -S "$work/ctd.sock" ] && break; sleep 0.1; done
  printf '{"iptables": false, "ip-forward": false, "bridge": "none", "cgroup-parent": "/%s/docker"}\n' "$cg" > "$work/daemon.json"
  dockerd --config-file "$work/daemon.json" --data-root "$work/docker" --exec-root "$run/docker-run" \
    --pidfile "$work/docker.pid" -H "unix://$work/docker.sock" --containerd "$work/ctd.sock" >"$work/dockerd.log" 2>&1 & pids=($! "${pids[@]}")
  for _ in $(seq 150); do docker -H "unix://$work/docker.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
  docker -H "unix://$work/docker.sock" import "$work/busybox.tar" localhost/busybox >/dev/null && tools+=(docker)
fi
docker_() { docker -H "unix://$work/docker.sock" "$@"; }
log "engines: ${tools[*]}"

: > "$work/times"
record() { echo "$1 $2 $(( ($4 - $3) / 1000 ))" >> "$work/times"; }

run_once() {
  case $1 in
    lindocker) "$ld" run --rm --network none localhost/busybox true ;;
    lindocker-runtime) "$rt" --root "$run/rt" run -b "$work/bundle" bare ;;
    lindocker-baseline) env "${base_env[@]}" "$base/lindocker" run --rm --network none localhost/busybox true ;;
    docker) docker_ run --rm --network none localhost/busybox true ;;
    podman) podman_ run --rm --network none --cgroup-parent "/$cg/podman" localhost/busybox true ;;
  esac
}
for t in "${tools[@]}"; do run_once "$t" >/dev/null; done
for r in $(seq "$rounds"); do
  for t in "${tools[@]}"; do stamp s; run_once "$t" >/dev/null; stamp e; record "run--rm" "$t" "$s" "$e"; done
  [ $((r % 5)) = 0 ] && log "run --rm: round $r/$rounds"
done

# 100 containers per engine.
engines=()
for t in "${tools[@]}"; do [ "$t" = lindocker-runtime ] || [ "$t" = lindocker-baseline ] || engines+=("$t"); done
for t in "${engines[@]}"; do
  stamp s
  for i in $(seq 100); do
    case $t in
      lindocker) "$ld" run -d --network none --name "s$i" localhost/busybox sleep 1000 ;;
      docker) docker_ run -d --network none --name "s$i" localhost/busybox sleep 1000 ;;
      podman) podman_ run -d --network none --cgroup-parent "/$cg/podman" --name "s$i" localhost/busybox sleep 1000 ;;
    esac >/dev/null
  done
  stamp m
  case $t in lindocker) "$ld" ps >/dev/null ;; docker) docker_ ps >/dev/null ;; podman) podman_ ps >/dev/null ;; esac
  stamp p
  for i in $(seq 10); do
    stamp s2
    case $t in lindocker) "$ld" ps >/dev/null ;; docker) docker_ ps >/dev/null ;; podman) podman_ ps >/dev/null ;; esac
    stamp e2
    record "ps(100)" "$t" "$s2" "$e2"
  done
  if [ "$t" = lindocker ]; then
    shim=$(python3 -c "import json,glob; print(json.load(open(glob.glob('$LINDOCKER_ROOT/containers/*/state.json')[0]))['ShimPid'])")
    grep VmRSS "/proc/$shim/status" | awk '{print "shim-rss lindocker " $2}' >> "$work/extra"
  fi
  # exec into one of them.
  for r in $(seq "$rounds"); do
    stamp s2
    case $t in lindocker) "$ld" exec s1 true ;; docker) docker_ exec s1 true ;; podman) podman_ exec s1 true ;; esac
    stamp e2
    record "exec" "$t" "$s2" "$e2"
    if [ "$t" = lindocker ] && [ -n "$base" ]; then
      stamp s2
      env "${base_env[@]}" "$base/lindocker" exec b1 true
      stamp e2
      record "exec" "lindocker-baseline" "$s2" "$e2"
    fi
  done
  stamp r0
  names=$(seq -f 's%g' 100)
  # shellcheck disable=SC2086
  case $t in lindocker) "$ld" rm -f $names ;; docker) docker_ rm -f $names ;; podman) podman_ rm -f -t 0 $names ;; esac >/dev/null
  stamp e
  record "100:run-d" "$t" "$s" "$m"
  record "100:ps" "$t" "$m" "$p"
  record "100:rm-f" "$t" "$r0" "$e"
  record "100:total" "$t" "$s" "$((m + (p - m) + (e - r0)))"
  log "100 containers: $t done"
done

python3 - "$work/times" "$work/extra" <<'PY'
import sys, statistics, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    op, tool, us = line.split()
    t[(op, tool)].append(int(us) / 1000)
print(f"{'operation':<12}{'tool':<20}{'median ms':>10}{'min ms':>10}  lindocker / this")
for op in ["run--rm", "exec", "ps(100)", "100:run-d", "100:ps", "100:rm-f", "100:total"]:
    rows = {tool: v for (o, tool), v in t.items() if o == op}
    if not rows: continue
    ours = statistics.median(rows["lindocker"])
    for tool, v in sorted(rows.items(), key=lambda kv: statistics.median(kv[1])):
        m = statistics.median(v)
        print(f"{op:<12}{tool:<20}{m:>10.1f}{min(v):>10.1f}  {'' if tool == 'lindocker' else f'{ours / m:.3f}'}")
for line in open(sys.argv[2]):
    what, tool, kb = line.split()
    print(f"{what} {tool}: {int(kb) / 1024:.2f} MiB")
PY
