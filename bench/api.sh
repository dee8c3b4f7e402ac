#!/usr/bin/env bash
# The Docker Engine API (`lindocker system service`), driven by the real docker CLI:
#   1. `docker run --rm busybox true` through lindocker's socket (hyperfine median), and
#      through dockerd's if `dockerd` is installed (else: not measured);
#   2. the service's resident memory idle, then with N running containers;
#   3. start-on-connect: the time from spawning the service on a socket it is handed
#      (as systemd's socket unit does) to the first `/_ping` answer.
# Containers run with --network none (networks cost: bench/network.sh).
#
# Usage: bench/api.sh [RUNS] [N]   (as root; RUNS for hyperfine, default 20; N containers,
# default 100). LINDOCKER_BENCH_BUILD=DIR takes the binaries from DIR (see lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-20}
count=${2:-100}
command -v docker >/dev/null || { echo "bench/api.sh: the docker CLI is needed (docker.io or docker-ce-cli)" >&2; exit 1; }
command -v hyperfine >/dev/null || { echo "bench/api.sh: hyperfine is needed" >&2; exit 1; }

work=$(mktemp -d /tmp/lindocker-bench-api.XXXXXX)
run=$(run_dir lindocker-bench-api)
cg="lindocker-bench-api-$$"
pids=()
cleanup() {
  "$ld" rm -f $("$ld" ps -aq 2>/dev/null) >/dev/null 2>&1 || true
  remove_work "$work" "${pids[@]}"
  remove_work "$run"
  remove_cgroups "$cg"
}
trap cleanup EXIT
log() { printf '%s\n' "$*" >&2; }
export LINDOCKER_ROOT=$work/ld LINDOCKER_STATE=$run/ld-state LINDOCKER_CGROUP_PARENT=/$cg
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"

busybox_rootfs "$work/rootfs" "$work/busybox.tar"
"$ld" import -c 'CMD ["sh"]' "$work/busybox.tar" localhost/busybox >/dev/null

sock=$run/docker.sock
"$ld" system service --time 0 "unix://$sock" 2>"$work/service.log" &
service=$!
pids+=("$service")
for _ in $(seq 200); do [ -S "$sock" ] && break; sleep 0.02; done
export DOCKER_HOST=unix://$sock

# 1. docker run --rm through the socket.
docker run --rm --network none localhost/busybox true
hyperfine --style none --warmup 3 --runs "$runs" --export-json "$work/run.json" \
  -n lindocker "docker run --rm --network none localhost/busybox true" >&2
median() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"; }
ld_ms=$(median "$work/run.json")
if command -v dockerd >/dev/null; then
  # dockerd on a data root and socket of its own, the same docker CLI, the same run.
  # It runs in a network namespace of its own, with no bridge, no iptables rules and no
  # ip_forward change, so it alters nothing of this host's network.
  dsock=$run/dockerd.sock
  dns="lindocker-bench-dockerd-$$"
  ip netns add "$dns"
  trap 'cleanup; ip netns del "$dns" 2>/dev/null || true; remove_cgroups "$cg-dockerd"' EXIT
  nsenter --net="/run/netns/$dns" -- dockerd --data-root "$work/dockerd" --exec-root "$run/dockerd-exec" \
    --pidfile "$run/dockerd.pid" -H "unix://$dsock" --bridge none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --cgroup-parent "/$cg-dockerd" >"$work/dockerd.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 500); do DOCKER_HOST=unix://$dsock docker version >/dev/null 2>&1 && break; sleep 0.05; done
  DOCKER_HOST=unix://$dsock docker import -c 'CMD ["sh"]' "$work/busybox.tar" localhost/busybox >/dev/null
  DOCKER_HOST=unix://$dsock hyperfine --style none --warmup 3 --runs "$runs" --export-json "$work/dockerd.json" \
    -n dockerd "docker run --rm --network none localhost/busybox true" >&2
  d_ms=$(median "$work/dockerd.json")
  ratio=$(python3 -c "print('%.2f' % ($ld_ms / $d_ms))")
  echo "docker run --rm true (median): lindocker API ${ld_ms} ms, dockerd ${d_ms} ms (ratio ${ratio}x; target < 0.2x)"
else
  echo "docker run --rm true (median): lindocker API ${ld_ms} ms, dockerd not measured (not installed)"
fi

# 2. The service's memory: idle, then with N running containers (made through it).
rss() { awk '/^VmRSS/ {print $2}' "/proc/$service/status"; }
echo "service RSS idle: $(rss) kB"
for i in $(seq "$count"); do docker run -d --network none --name "b$i" localhost/busybox sleep 600 >/dev/null; done
docker ps -q >/dev/null
echo "service RSS with $count containers (after run -d and ps of them): $(rss) kB"
docker rm -f $(docker ps -aq) >/dev/null
kill "$service"; wait "$service" 2>/dev/null || true

# 3. Start on connect: the socket exists (bound here, as systemd binds it); the service
# is spawned with it as descriptor 3 and answers the first /_ping.
python3 - "$ld" "$run/activated.sock" "$runs" <<'PY'
import os, socket, subprocess, sys, time
ld, path, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
times = []
for _ in range(runs):
    if os.path.exists(path):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    fd = listener.fileno()
    start = time.perf_counter()
    def child():
        os.dup2(fd, 3)
        os.environ["LISTEN_PID"] = str(os.getpid())
        os.environ["LISTEN_FDS"] = "1"
    # LISTEN_PID must be the service's own pid: set in the child before exec.
    p = subprocess.Popen([ld, "system", "service", "--time", "1"], preexec_fn=child, pass_fds=(fd, 3),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
    reply = b""
    while True:
        chunk = c.recv(4096)
        if not chunk:
            break
        reply += chunk
    times.append((time.perf_counter() - start) * 1000)
    assert b"200 OK" in reply, reply
    c.close()
    listener.close()
    p.wait()
times.sort()
print("start-on-connect, spawn to first /_ping answer (median of %d): %.1f ms" % (runs, times[len(times) // 2]))
PY
