# Shared by the bench scripts (sourced from the repository root, under set -euo pipefail).

# podman_config WORK [RUN]: Podman's flags in podman_args (root and storage under WORK,
# run root under RUN, default WORK), and a containers.conf for Podman 4.3 on this host, exported as
# CONTAINERS_CONF: ulimits the host allows (root lacks CAP_SYS_RESOURCE, hard nofile
# 20000; Podman's defaults ask more), the cgroupfs manager (PID 1 is not systemd), runc
# (Debian's crun refuses this hybrid cgroup host), its CNI bridge (with netavark installed,
# Podman would pick that) and network configs under WORK, not in /etc.
podman_config() {
  cat > "$1/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
[network]
network_backend = "cni"
network_config_dir = "$1/podman-networks"
CONF
  export CONTAINERS_CONF="$1/containers.conf"
  podman_args=(--root "$1/podman" --runroot "${2:-$1}/podman-run" --storage-driver overlay --cgroup-manager cgroupfs)
}

# run_dir NAME: a new directory for the engines' run-time state (runtime states, sockets,
# network namespaces), on a tmpfs as a host keeps it: /run, or /dev/shm where /run is
# not a tmpfs (as on the VM these figures come from, whose / is ext4 without a journal).
run_dir() {
  local base=/run
  [ "$(stat -fc %T /run 2>/dev/null)" = tmpfs ] || base=/dev/shm
  mktemp -d "$base/$1.XXXXXX"
}

# unmount_under DIR: lazily unmounts everything mounted below DIR, deepest first (a
# bench's cleanup, before it removes DIR; never fails, so a trap under `set -e` goes on).
unmount_under() {
  { grep -o " $1[^ ]*" /proc/self/mountinfo || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

# stamp VAR: the time in nanoseconds (microsecond resolution) into VAR, without forking:
# `$(date +%s%N)` costs a fork and an exec, ~2 ms here, which would count in every
# measurement and flatter the slow tools' ratios.
stamp() {
  local t=${EPOCHREALTIME//[.,]/}
  printf -v "$1" '%s000' "$t"
}

# busybox_rootfs DIR TAR: a busybox root filesystem (Debian's busybox-static, every
# applet linked, a passwd with root) in DIR, and as a tar at TAR.
busybox_rootfs() {
  mkdir -p "$1/bin" "$1/etc" "$1/tmp"
  cp /bin/busybox "$1/bin/"
  for a in $(/bin/busybox --list); do [ "$a" = busybox ] || ln -s busybox "$1/bin/$a"; done
  echo 'root:x:0:0:root:/root:/bin/sh' > "$1/etc/passwd"
  tar -C "$1" -cf "$2" .
}

# remove_work DIR PID...: stops the processes a bench started (by pid), unmounts what is
# left under DIR and removes it (daemons may take a moment to let go).
remove_work() {
  local dir=$1 p
  shift
  for p in "$@"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for _ in 1 2 3; do
    unmount_under "$dir"
    rm -rf "$dir" 2>/dev/null && break
    sleep 1
  done
}

# remove_cgroups NAME: the cgroup NAME (and what is under it) in every hierarchy.
remove_cgroups() {
  local d
  for d in /sys/fs/cgroup/*/"$1" /sys/fs/cgroup/"$1"; do
    { [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} \; 2>/dev/null; } || true
  done
}

# The release binaries (built if missing): lindocker as $ld, lindocker-runtime as $rt.
# LINDOCKER_BENCH_BUILD=DIR: the binaries of DIR instead (a debug build, for a quick look).
release=${LINDOCKER_BENCH_BUILD:-$PWD/target/x86_64-unknown-linux-gnu/release}
[ -x "$release/lindocker" ] && [ -x "$release/lindocker-shim" ] && [ -x "$release/lindocker-runtime" ] \
  && [ -x "$release/lindocker-dns" ] && [ -x "$release/lindocker-proxy" ] \
  || cargo build --release --locked -p lindocker-cli
ld=$release/lindocker
rt=$release/lindocker-runtime
