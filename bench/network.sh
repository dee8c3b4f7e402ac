#!/usr/bin/env bash
# What the network costs, inside a throw-away network namespace that plays the host
# (every packet stays in it: loopback and the containers' own addresses):
#   1. `run --rm busybox true` on the default bridge vs --network none, rounds
#      interleaved: lindocker, docker (dockerd started here, in the namespace) and
#      podman (its CNI bridge);
#   2. TCP throughput with iperf3 (server in a container, client on the fake host):
#      to the container's address, and through a published port on 127.0.0.1;
#      docker's (docker-proxy) and podman's published ports for comparison.
# Prints medians, differences and ratios.
#
# Usage: bench/network.sh [ROUNDS]   (as root; needs iperf3, busybox-static, nft)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:-20}
for t in iperf3 nft ip nsenter python3; do command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/install.sh installs it)" >&2; exit 1; }; done

ns="ldbench-$$"
work=$(mktemp -d /tmp/lindocker-bench-net.XXXXXX)
run=$(run_dir lindocker-bench-net)
cg="lindocker-bench-net-$$"
pids=()
podman_args=()
in_ns() { nsenter --net="/run/netns/$ns" -- "$@"; }
cleanup() {
  in_ns "$ld" rm -f $(in_ns "$ld" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  [ ${#podman_args[@]} -gt 0 ] && { podman_ rm -af >/dev/null 2>&1 || true; }
  remove_work "$work" "${pids[@]}"
  remove_work "$run"
  ip netns del "$ns" 2>/dev/null || true
  remove_cgroups "$cg"
}
trap cleanup EXIT
log() { printf '%s\n' "$*" >&2; }
ip netns add "$ns"
ip -n "$ns" link set lo up
export LINDOCKER_ROOT=$work/ld LINDOCKER_STATE=$run/ld-state LINDOCKER_CGROUP_PARENT=/$cg

# Images: busybox, and one with iperf3 and the libraries it links.
busybox_rootfs "$work/bb" "$work/busybox.tar"
cp -a "$work/bb" "$work/perf"
for f in /usr/bin/iperf3 $(ldd /usr/bin/iperf3 | grep -o '/[^ ]*'); do
  mkdir -p "$work/perf$(dirname "$f")"; cp -L "$f" "$work/perf$f"
done
tar -C "$work/perf" -cf "$work/iperf.tar" .
in_ns "$ld" import -c 'CMD ["sh"]' "$work/busybox.tar" localhost/busybox >/dev/null
in_ns "$ld" import "$work/iperf.tar" localhost/iperf3 >/dev/null

tools=(lindocker)
if command -v dockerd >/dev/null && command -v containerd >/dev/null; then
  # nsenter directly, not the in_ns function: `$!` must be the daemon, not a subshell.
  nsenter --net="/run/netns/$ns" -- containerd --root "$work/ctd/root" --state "$run/ctd/state" --address "$work/ctd.sock" >"$work/containerd.log" 2>&1 & pids+=($!)
  for _ in $(seq 100); do [ -S "$work/ctd.sock" ] && break; sleep 0.1; done
  printf '{"cgroup-parent": "/%s/docker", "bip": "10.213.0.1/24"}\n' "$cg" > "$work/daemon.json"
  nsenter --net="/run/netns/$ns" -- dockerd --config-file "$work/daemon.json" --data-root "$work/docker" --exec-root "$run/docker-run" \
    --pidfile "$work/docker.pid" -H "unix://$work/docker.sock" --containerd "$work/ctd.sock" >"$work/dockerd.log" 2>&1 & pids=($! "${pids[@]}")
  for _ in $(seq 150); do docker -H "unix://$work/docker.sock" version >/dev/null 2>&1 && break; sleep 0.2; done
  if docker -H "unix://$work/docker.sock" import "$work/busybox.tar" localhost/busybox >/dev/null 2>&1; then
    docker -H "unix://$work/docker.sock" import "$work/iperf.tar" localhost/iperf3 >/dev/null
    tools+=(docker)
  else
    log "dockerd did not start in the namespace (see $work/dockerd.log); skipping docker"
  fi
fi
docker_() { in_ns docker -H "unix://$work/docker.sock" "$@"; }
# Podman 4.3 with its CNI bridge (Debian's containernetworking-plugins).
podman_config "$work" "$run"
podman_() { in_ns podman "${podman_args[@]}" "$@"; }
if command -v podman >/dev/null && command -v runc >/dev/null && podman_ import -q "$work/busybox.tar" localhost/busybox >/dev/null 2>&1; then
  podman_ import -q "$work/iperf.tar" localhost/iperf3 >/dev/null
  tools+=(podman)
fi
log "engines: ${tools[*]}"

: > "$work/times"
for t in "${tools[@]}"; do for net in bridge none; do
  case $t in lindocker) in_ns "$ld" run --rm --network $net localhost/busybox true ;; docker) docker_ run --rm --network $net localhost/busybox true ;; podman) podman_ run --rm --network $net localhost/busybox true ;; esac
done; done
for r in $(seq "$rounds"); do
  for t in "${tools[@]}"; do
    for net in bridge none; do
      stamp s
      case $t in lindocker) in_ns "$ld" run --rm --network $net localhost/busybox true ;; docker) docker_ run --rm --network $net localhost/busybox true ;; podman) podman_ run --rm --network $net localhost/busybox true ;; esac
      stamp e
      echo "$t $net $(( (e - s) / 1000 ))" >> "$work/times"
    done
  done
  [ $((r % 5)) = 0 ] && log "run --rm: round $r/$rounds"
done

# Throughput.
: > "$work/iperf"
measure() { # label, address, port
  in_ns iperf3 -c "$2" -p "$3" -t 3 -J > "$work/out.json" 2>/dev/null || { echo "$1 failed" >> "$work/iperf"; return; }
  python3 -c "import json,sys; d=json.load(open('$work/out.json')); print('$1', d['end']['sum_received']['bits_per_second'])" >> "$work/iperf"
}
# iperf_pair NAME HOSTPORT HOW ENGINE...: an iperf3 server in a container of ENGINE (a
# command), measured at its address and through HOSTPORT on 127.0.0.1 (published HOW).
iperf_pair() {
  local name=$1 port=$2 how=$3 ip
  shift 3
  "$@" run -d --name perf -p "$port:5201" localhost/iperf3 iperf3 -s >/dev/null
  sleep 0.5
  ip=$("$@" inspect -f '{{.NetworkSettings.IPAddress}}' perf)
  measure "$name direct ($ip)" "$ip" 5201
  measure "$name published (127.0.0.1$how)" 127.0.0.1 "$port"
  "$@" rm -f perf >/dev/null
}
iperf_pair lindocker 5201 "" in_ns "$ld"
[[ " ${tools[*]} " == *" docker "* ]] && iperf_pair docker 5202 ", docker-proxy" docker_
[[ " ${tools[*]} " == *" podman "* ]] && iperf_pair podman 5203 "" podman_

python3 - "$work/times" "$work/iperf" <<'PY'
import sys, statistics, collections
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    tool, net, us = line.split()
    t[(tool, net)].append(int(us) / 1000)
print("run --rm busybox true, medians in ms")
for tool in sorted({k[0] for k in t}):
    b, n = statistics.median(t[(tool, "bridge")]), statistics.median(t[(tool, "none")])
    print(f"  {tool:<10} bridge {b:7.1f}   none {n:7.1f}   network adds {b - n:6.1f}")
print("TCP throughput (iperf3, 3 s)")
rates = {}
for line in open(sys.argv[2]):
    label, _, value = line.rstrip().rpartition(" ")
    if value == "failed":
        print(f"  {line.strip()}")
        continue
    rates[label] = float(value)
    print(f"  {label:<46} {float(value) / 1e9:7.2f} Gbit/s")
direct = [v for k, v in rates.items() if k.startswith("lindocker direct")]
published = [v for k, v in rates.items() if k.startswith("lindocker published")]
if direct and published:
    print(f"  lindocker published / direct: {published[0] / direct[0]:.2f}")
PY
