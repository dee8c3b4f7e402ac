#!/usr/bin/env bash
# Pull + unpack from one local registry (Debian's docker-registry on 127.0.0.1), tools
# interleaved round by round, each starting from an empty store every round:
#   lindocker pull | skopeo copy + umoci unpack | podman pull | ctr image pull (containerd
#   started here) | docker pull (dockerd started here, if installed)
# for busybox and for a ~200 MB image of many small files (/usr/share/doc + man), then
# `load` of a docker-save archive: lindocker vs podman vs docker. Prints medians, ratios
# to the fastest other tool, and lindocker's peak RSS (GNU time).
#
# Usage: bench/pull.sh [ROUNDS]   (as root)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
rounds=${1:-5}
for t in docker-registry skopeo umoci /usr/bin/time python3; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/install.sh installs it)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/lindocker-bench-pull.XXXXXX)
pids=()
cleanup() {
  # podman/containerd/docker leave mounts under their roots; they may take a moment.
  remove_work "$work" "${pids[@]}"
}
trap cleanup EXIT
log() { printf '%s\n' "$*" >&2; }

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
reg=127.0.0.1:$port
mkdir -p "$work/registry"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' \
  "$work/registry/data" "$reg" > "$work/registry/config.yml"
docker-registry serve "$work/registry/config.yml" >"$work/registry/log" 2>&1 & pids+=($!)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

# The two test images, pushed by skopeo (gzip layers, as registries usually serve).
seed="$work/seed"
mkdir -p "$seed/bb/bin" "$seed/bb/etc"
cp /bin/busybox "$seed/bb/bin/"
for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$seed/bb/bin/$a"; done
tar -C "$seed/bb" -cf "$seed/bb.tar" .
tar -C / -cf "$seed/share.tar" usr/share/doc usr/share/man 2>/dev/null || true
files=$(tar -tf "$seed/share.tar" | wc -l)
"$ld" --root "$seed/root" import "$seed/bb.tar" bench/busybox:1 >/dev/null
"$ld" --root "$seed/root" import "$seed/share.tar" bench/share:1 >/dev/null
for img in busybox share; do
  "$ld" --root "$seed/root" save -o "$seed/$img.archive" "bench/$img:1"
  skopeo copy --quiet --dest-compress --dest-tls-verify=false "oci-archive:$seed/$img.archive" "docker://$reg/bench/$img:1"
done
share_mb=$(( $(stat -c %s "$seed/share.tar") / 1000000 ))
log "images: busybox, share ($share_mb MB uncompressed, $files entries) at $reg"

# The other engines, each with a private root.
tools=(lindocker skopeo+umoci podman)
if command -v containerd >/dev/null && command -v ctr >/dev/null; then
  mkdir -p "$work/containerd"
  containerd --root "$work/containerd/root" --state "$work/containerd/state" \
    --address "$work/containerd/sock" >"$work/containerd/log" 2>&1 & pids+=($!)
  for _ in $(seq 100); do [ -S "$work/containerd/sock" ] && break; sleep 0.1; done
  tools+=(ctr)
fi
if command -v dockerd >/dev/null && command -v docker >/dev/null; then
  mkdir -p "$work/docker"
  dockerd --data-root "$work/docker/root" --exec-root "$work/docker/exec" --pidfile "$work/docker/pid" \
    -H "unix://$work/docker/sock" --bridge=none --iptables=false --ip6tables=false \
    --containerd "$work/containerd/sock" >"$work/docker/log" 2>&1 & pids+=($!)
  ok=""
  for _ in $(seq 150); do docker -H "unix://$work/docker/sock" info >/dev/null 2>&1 && { ok=1; break; }; sleep 0.2; done
  if [ -n "$ok" ]; then tools+=(docker); else log "dockerd did not start (see $work/docker/log); skipping docker"; fi
fi
ctr_() { ctr --address "$work/containerd/sock" -n bench "$@"; }
docker_() { docker -H "unix://$work/docker/sock" "$@"; }
podman_() { podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver overlay "$@"; }

reset() { # tool image
  case $1 in
    lindocker) rm -rf "$work/ld" ;;
    skopeo+umoci) rm -rf "$work/oci" "$work/bundle" ;;
    podman) podman_ rmi -f "$reg/bench/$2:1" >/dev/null 2>&1 || true ;;
    ctr) ctr_ images rm --sync "$reg/bench/$2:1" >/dev/null 2>&1 || true ;;
    docker) docker_ rmi -f "$reg/bench/$2:1" >/dev/null 2>&1 || true ;;
  esac
}
pull() { # tool image
  local ref=$reg/bench/$2:1
  case $1 in
    lindocker) /usr/bin/time -f %M -o "$work/rss" "$ld" --root "$work/ld" pull -q "$ref" >/dev/null
               echo "$2 $(cat "$work/rss")" >> "$work/rss.all" ;;
    skopeo+umoci) skopeo copy --quiet --src-tls-verify=false "docker://$ref" "oci:$work/oci:t" &&
                  umoci unpack --image "$work/oci:t" "$work/bundle" >/dev/null ;;
    podman) podman_ pull -q --tls-verify=false "docker://$ref" >/dev/null ;;
    ctr) ctr_ images pull --plain-http "$ref" >/dev/null ;;
    docker) docker_ pull -q "$ref" >/dev/null ;;
  esac
}
: > "$work/times"
for img in busybox share; do
  for t in "${tools[@]}"; do reset "$t" "$img"; pull "$t" "$img"; reset "$t" "$img"; done # warm-up
  for r in $(seq "$rounds"); do
    for t in "${tools[@]}"; do
      reset "$t" "$img"; sync
      stamp s; pull "$t" "$img"; stamp e
      echo "pull $img $t $(( (e - s) / 1000 ))" >> "$work/times"
    done
    log "pull $img: round $r/$rounds"
  done
  for t in "${tools[@]}"; do reset "$t" "$img"; done
done

# load of a docker-save archive (uncompressed layers, as `docker save` writes them).
skopeo copy --quiet "oci-archive:$seed/share.archive" "docker-archive:$seed/share.docker.tar:bench/share:1"
loaders=(lindocker podman)
[[ " ${tools[*]} " == *" docker "* ]] && loaders+=(docker)
for r in $(seq "$rounds"); do
  for t in "${loaders[@]}"; do
    case $t in
      lindocker) rm -rf "$work/ld"; stamp s; "$ld" --root "$work/ld" load -q -i "$seed/share.docker.tar"; stamp e ;;
      podman) podman_ rmi -f bench/share:1 >/dev/null 2>&1 || true; stamp s; podman_ load -q -i "$seed/share.docker.tar" >/dev/null; stamp e ;;
      docker) docker_ rmi -f bench/share:1 >/dev/null 2>&1 || true; stamp s; docker_ load -q -i "$seed/share.docker.tar" >/dev/null; stamp e ;;
    esac
    echo "load share $t $(( (e - s) / 1000 ))" >> "$work/times"
  done
  log "load: round $r/$rounds"
done

python3 - "$work/times" "$work/rss.all" "$rounds" <<'PY'
import sys, statistics, collections
times = collections.defaultdict(list)
for line in open(sys.argv[1]):
    op, img, tool, us = line.split()
    times[(op, img, tool)].append(int(us) / 1000)
rss = collections.defaultdict(list)
for line in open(sys.argv[2]):
    img, kb = line.split()
    rss[img].append(int(kb))
print(f"rounds: {sys.argv[3]}, interleaved; medians in ms")
print(f"{'operation':<14}{'tool':<15}{'median':>10}{'min':>10}  ratio (lindocker / this)")
for op, img in sorted({(o, i) for o, i, _ in times}, key=lambda k: (k[0] != 'pull', k[1])):
    med = {t: statistics.median(v) for (o, i, t), v in times.items() if (o, i) == (op, img)}
    ours = med["lindocker"]
    for tool, m in sorted(med.items(), key=lambda kv: kv[1]):
        mn = min(times[(op, img, tool)])
        ratio = "" if tool == "lindocker" else f"{ours / m:.2f}"
        print(f"{op + ' ' + img:<14}{tool:<15}{m:>10.1f}{mn:>10.1f}  {ratio}")
for img, kbs in sorted(rss.items()):
    print(f"lindocker pull {img}: peak RSS {max(kbs) / 1024:.1f} MiB")
PY
