#!/usr/bin/env bash
# What the network costs, inside a throw-away network namespace that plays the host
# (every packet stays in it: loopback and the containers' own addresses):
#   1. `run --rm busybox true` on the default bridge vs --network none, rounds
#      interleaved: lindocker, docker (dockerd started here, in the namespace) and
#      podman (its CNI bridge);
#   2. TCP throughput with iperf3 (server in a container, client on the fake host):
#      to the container's address, and through a published port on 127.0.0.1;
#      docker's (docker-proxy) and podman's published ports for comparison;
#   3. DNS on a user network (lindocker-dns; Docker's embedded DNS at 127.0.0.11; Podman
#      with netavark and aardvark-dns): latency (median, p99) of a peer's name and of a
#      name forwarded to an upstream server on the fake host (lindocker-dnsq), 100
#      questions a second for 5 s from a container's namespace; `run --rm` on the user
#      network (its DNS server already running) vs the default bridge; the server's RSS;
#   4. the start-time cost of names by DNS: `run --rm` on a user network with its DNS
#      server vs one made with --disable-dns vs the default bridge, hyperfine medians in
#      one run (target: under 1 ms added); the RSS of a port's IPv6 proxy.
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
  declare -F podman_nv >/dev/null && { podman_nv rm -af >/dev/null 2>&1 || true; }
  # Podman 4.3 makes these whatever its backend (no option moves them): gone if it
  # made them here.
  [ -n "$made_run_containers" ] && rm -rf /run/containers
  [ -n "$made_etc_networks" ] && rm -rf /etc/containers/networks
  [[ " ${tools[*]:-} " == *" docker "* ]] && { docker_ rm -f $(docker_ ps -aq 2>/dev/null) >/dev/null 2>&1 || true; }
  remove_work "$work" "${pids[@]}"
  remove_work "$run"
  ip netns del "$ns" 2>/dev/null || true
  remove_cgroups "$cg"
}
made_run_containers=""; [ -e /run/containers ] || made_run_containers=1
made_etc_networks=""; [ -e /etc/containers/networks ] || made_etc_networks=1
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

# A user network per engine, each with a container on it (so a DNS server runs, as it
# does while any container is on the network).
in_ns "$ld" network create --subnet 10.254.1.0/24 benchnet >/dev/null
in_ns "$ld" run -d --name peer --network benchnet localhost/busybox sleep 3600 >/dev/null
if [[ " ${tools[*]} " == *" docker "* ]]; then
  docker_ network create --subnet 10.254.2.0/24 benchnet >/dev/null
  docker_ run -d --name peer --network benchnet localhost/busybox sleep 3600 >/dev/null
fi
if [[ " ${tools[*]} " == *" podman "* ]]; then
  podman_ network create --subnet 10.254.3.0/24 benchnet >/dev/null
  podman_ run -d --name peer --network benchnet localhost/busybox sleep 3600 >/dev/null
fi

: > "$work/times"
for t in "${tools[@]}"; do for net in bridge none benchnet; do
  case $t in lindocker) in_ns "$ld" run --rm --network $net localhost/busybox true ;; docker) docker_ run --rm --network $net localhost/busybox true ;; podman) podman_ run --rm --network $net localhost/busybox true ;; esac
done; done
for r in $(seq "$rounds"); do
  for t in "${tools[@]}"; do
    for net in bridge none benchnet; do
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

# The start-time cost of DNS: the same user network without it (a container on each, so
# the server runs, as it does while any container is on a network it serves).
in_ns "$ld" network create --disable-dns --subnet 10.254.5.0/24 nodnsnet >/dev/null
in_ns "$ld" run -d --name peer-nodns --network nodnsnet localhost/busybox sleep 3600 >/dev/null
echo '{"results": []}' > "$work/dnscost.json"
if command -v hyperfine >/dev/null; then
  hf=()
  for net in benchnet nodnsnet bridge; do
    hf+=(-n "$net" "nsenter --net=/run/netns/$ns -- $ld run --rm --network $net localhost/busybox true")
  done
  hyperfine -N --warmup 3 --runs "$rounds" --export-json "$work/dnscost.json" "${hf[@]}" >&2
else
  log "hyperfine missing: no start-time cost of DNS"
fi
# A published port's IPv6 side: the container's proxy (a child of its shim).
in_ns "$ld" run -d --name published --network benchnet -p 18080:80 localhost/busybox sleep 3600 >/dev/null
proxy_pid=$(in_ns ss -Hltnp "sport = :18080" | grep -o 'lindocker-proxy",pid=[0-9]*' | grep -o '[0-9]*$' | head -1 || true)
[ -n "$proxy_pid" ] && echo "rss lindocker-proxy $(awk '/VmRSS/ {print $2}' "/proc/$proxy_pid/status")" >> "$work/proxy-rss"
in_ns "$ld" rm -f published >/dev/null

# DNS. An upstream server on the fake host, on an address of its own (on lo: a dummy
# link needs a module this host may lack).
: > "$work/dns"
dnsq=""
for d in "$release" "$PWD/target/x86_64-unknown-linux-gnu/release" "$PWD/target/x86_64-unknown-linux-gnu/debug"; do
  [ -x "$d/lindocker-dnsq" ] && { dnsq=$d/lindocker-dnsq; break; }
done
[ -n "$dnsq" ] || { cargo build -q -p lindocker-testkit --bin lindocker-dnsq && dnsq=$PWD/target/x86_64-unknown-linux-gnu/debug/lindocker-dnsq; }
ip -n "$ns" addr add 10.253.0.53/32 dev lo
nsenter --net="/run/netns/$ns" -- "$dnsq" serve 10.253.0.53 > "$work/upstream.out" 2>&1 & pids+=($!)
for _ in $(seq 50); do grep -q ready "$work/upstream.out" 2>/dev/null && break; sleep 0.1; done
# dns_latency LABEL SERVER ENGINE...: a client container on benchnet (--dns: the
# upstream), then dnsq's load from its namespace, for the peer's name and a forwarded one.
dns_latency() {
  local label=$1 server=$2 pid
  shift 2
  "$@" run -d --name client --network benchnet --dns 10.253.0.53 localhost/busybox sleep 3600 >/dev/null
  pid=$("$@" inspect -f '{{.State.Pid}}' client)
  for name in peer example.test; do
    echo "$label $name $(nsenter --net="/proc/$pid/ns/net" -- "$dnsq" load "$server" "$name" 100 5)" >> "$work/dns"
  done
  "$@" rm -f client >/dev/null
}
dns_latency lindocker 10.254.1.1 in_ns "$ld"
ld_dns_pid=$(cat "$LINDOCKER_STATE/network-dns.pid" 2>/dev/null || true)
[ -n "$ld_dns_pid" ] && echo "rss lindocker-dns $(awk '/VmRSS/ {print $2}' "/proc/$ld_dns_pid/status")" >> "$work/dns"
[[ " ${tools[*]} " == *" docker "* ]] && dns_latency docker 127.0.0.11 docker_
# Podman's DNS needs netavark (the runs above use its CNI bridge): another Podman root.
if [[ " ${tools[*]} " == *" podman "* ]] && [ -x /usr/lib/podman/aardvark-dns ] && [ -x /usr/lib/podman/netavark ]; then
  sed -e 's/^network_backend = .*/network_backend = "netavark"/' \
    -e "s|^network_config_dir = .*|network_config_dir = \"$work/netavark-networks\"|" "$work/containers.conf" > "$work/containers-nv.conf"
  podman_nv() { in_ns env CONTAINERS_CONF="$work/containers-nv.conf" podman --root "$work/podman-nv" --runroot "$run/podman-nv-run" --storage-driver overlay --cgroup-manager cgroupfs "$@"; }
  podman_nv import -q "$work/busybox.tar" localhost/busybox >/dev/null
  podman_nv network create --subnet 10.254.4.0/24 benchnet >/dev/null
  podman_nv run -d --name peer --network benchnet localhost/busybox sleep 3600 >/dev/null
  dns_latency podman-aardvark 10.254.4.1 podman_nv
  for p in $(pgrep -x aardvark-dns || true); do
    grep -q "/run/containers/networks/aardvark-dns" "/proc/$p/cmdline" 2>/dev/null && echo "rss aardvark-dns $(awk '/VmRSS/ {print $2}' "/proc/$p/status")" >> "$work/dns"
  done
  podman_nv rm -af >/dev/null 2>&1 || true
  podman_nv network rm -f benchnet >/dev/null 2>&1 || true
fi

cat "$work/proxy-rss" >> "$work/dns" 2>/dev/null || true
python3 - "$work/times" "$work/iperf" "$work/dns" "$work/dnscost.json" <<'PY'
import sys, statistics, collections, json
t = collections.defaultdict(list)
for line in open(sys.argv[1]):
    tool, net, us = line.split()
    t[(tool, net)].append(int(us) / 1000)
print("run --rm busybox true, medians in ms")
for tool in sorted({k[0] for k in t}):
    b, n, u = (statistics.median(t[(tool, k)]) for k in ("bridge", "none", "benchnet"))
    print(f"  {tool:<10} bridge {b:7.1f}   none {n:7.1f}   network adds {b - n:6.1f}   user network {u:7.1f} ({u - b:+.1f} vs bridge)")
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
print("DNS on a user network: 100 questions/s for 5 s from a container, latency in ms")
for line in open(sys.argv[3]):
    f = line.split()
    if f[0] == "rss":
        print(f"  RSS of {f[1]}: {int(f[2]) / 1024:.1f} MiB")
        continue
    # LABEL NAME sent N answered M p50_us X p99_us Y
    print(f"  {f[0]:<16} {f[1]:<13} answered {f[5]}/{f[3]}   median {int(f[7]) / 1000:6.3f}   p99 {int(f[9]) / 1000:6.3f}")
cost = {r["command"]: r for r in json.load(open(sys.argv[4]))["results"]}
if cost:
    print("Start-time cost of DNS: lindocker run --rm busybox true (hyperfine), medians in ms")
    m = {k: statistics.median(r["times"]) * 1000 for k, r in cost.items()}
    for k, label in (("benchnet", "user network, DNS"), ("nodnsnet", "user network, --disable-dns"), ("bridge", "default bridge")):
        if k in m:
            r = cost[k]
            print(f"  {label:<30} median {m[k]:7.2f}   mean {r['mean'] * 1000:7.2f} ± {r['stddev'] * 1000:5.2f}   ({len(r['times'])} runs)")
    if "benchnet" in m and "nodnsnet" in m:
        added = m["benchnet"] - m["nodnsnet"]
        print(f"  DNS adds {added:+.2f} ms (target: under 1 ms): {'met' if added < 1 else 'NOT met'}")
PY
