# Shared by the bench scripts (sourced).

# podman_config WORK: Podman's flags in podman_args (root, run root and storage under
# WORK), and a containers.conf for Podman 4.3 on this host, exported as
# CONTAINERS_CONF: ulimits the host allows (root lacks CAP_SYS_RESOURCE, hard nofile
# 20000; Podman's defaults ask more), the cgroupfs manager (PID 1 is not systemd), runc
# (Debian's crun refuses this hybrid cgroup host).
podman_config() {
  cat > "$1/containers.conf" <<CONF
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
CONF
  export CONTAINERS_CONF="$1/containers.conf"
  podman_args=(--root "$1/podman" --runroot "$1/podman-run" --storage-driver overlay --cgroup-manager cgroupfs)
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
