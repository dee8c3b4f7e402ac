#!/usr/bin/env bash
# lindocker-runtime under the engines that drive runc: Podman (--runtime), containerd
# (ctr run --runc-binary) and Docker (a "lindocker" runtime in daemon.json). Each runs a
# busybox container that prints "ok". containerd and dockerd are started here, with their
# state in a temp dir, and stopped by pid. As root; installs the engines if missing.
#
# Not part of scripts/test.sh (the engines are large installs); run it by hand.
# Each engine uses its defaults, its seccomp profile included.
set -euo pipefail
cd "$(dirname "$0")/.."
runtime=${LINDOCKER_RUNTIME:-$PWD/target/x86_64-unknown-linux-gnu/release/lindocker-runtime}
[ -x "$runtime" ] || cargo build --release --locked -p lindocker-cli
for pkg in podman:podman containerd:containerd ctr:containerd dockerd:docker.io; do
  command -v "${pkg%%:*}" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${pkg#*:}" >/dev/null
done

work=$(mktemp -d /tmp/lindocker-engines.XXXXXX)
# Every engine puts its container under this cgroup parent, removed at the end.
cg="lindocker-engines-$$"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null && while kill -0 "$p" 2>/dev/null; do sleep 0.1; done; done
  grep " $work" /proc/self/mountinfo | awk '{print $5}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$work"
  for d in /sys/fs/cgroup/*/"$cg" /sys/fs/cgroup/"$cg"; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  true
}
trap cleanup EXIT

# A busybox image: a rootfs tar, imported by each engine.
mkdir -p "$work/rootfs/bin" "$work/rootfs/etc" "$work/rootfs/proc" "$work/rootfs/sys" "$work/rootfs/dev"
cp /bin/busybox "$work/rootfs/bin/"
for a in sh echo true; do ln -s busybox "$work/rootfs/bin/$a"; done
tar -C "$work/rootfs" -cf "$work/busybox.tar" .
pass=0
check() { # name, output
  if [ "$2" = ok ]; then echo "PASS $1"; pass=$((pass + 1)); else echo "FAIL $1: $2"; fi
}

# Podman. This host's hard limits are below Podman's default ulimits, and a runtime must
# not clamp them silently: give Podman limits the host allows.
cat > "$work/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
CONF
export CONTAINERS_CONF="$work/containers.conf"
podman=(podman --root "$work/podman" --runroot "$work/podman-run" --storage-driver vfs)
"${podman[@]}" import -q "$work/busybox.tar" localhost/lindocker-busybox >/dev/null
out=$("${podman[@]}" --runtime "$runtime" run --rm --network none \
  --cgroup-parent "/$cg" localhost/lindocker-busybox echo ok 2>&1) || true
check "podman --runtime $runtime run --rm IMAGE echo ok" "$out"
"${podman[@]}" save -q --format oci-archive -o "$work/oci.tar" localhost/lindocker-busybox

# containerd + ctr.
containerd --root "$work/ctd/root" --state "$work/ctd/state" --address "$work/ctd.sock" >"$work/containerd.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/ctd.sock" ] && break; sleep 0.1; done
ctr=(ctr -a "$work/ctd.sock")
"${ctr[@]}" images import "$work/oci.tar" >/dev/null
out=$("${ctr[@]}" run --rm --runc-binary "$runtime" --cgroup "/$cg/ctr" localhost/lindocker-busybox:latest lindocker-ctr echo ok 2>&1) || true
check "ctr run --rm --runc-binary $runtime IMAGE ID echo ok" "$out"

# dockerd with a "lindocker" runtime, on its own socket, without touching the host network.
cat > "$work/daemon.json" <<JSON
{"runtimes": {"lindocker": {"path": "$runtime"}}, "iptables": false, "ip-forward": false,
 "bridge": "none", "storage-driver": "vfs"}
JSON
dockerd --config-file "$work/daemon.json" --data-root "$work/docker" --exec-root "$work/docker-run" \
  --pidfile "$work/docker.pid" -H "unix://$work/docker.sock" \
  --containerd "$work/ctd.sock" >"$work/dockerd.log" 2>&1 &
pids=($! "${pids[@]}")
docker=(docker -H "unix://$work/docker.sock")
for _ in $(seq 100); do "${docker[@]}" version >/dev/null 2>&1 && break; sleep 0.2; done
"${docker[@]}" import "$work/busybox.tar" lindocker-busybox >/dev/null
out=$("${docker[@]}" run --rm --runtime lindocker --network none \
  --cgroup-parent "/$cg" lindocker-busybox echo ok 2>&1) || true
check "docker run --runtime lindocker --rm IMAGE echo ok" "$out"

echo "$pass of 3 engines ran a container with lindocker-runtime"
[ "$pass" = 3 ]
