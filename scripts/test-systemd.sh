#!/usr/bin/env bash
# Runs the systemd cgroup driver's tests (crates/cli/tests/runtime_systemd.rs) inside a VM
# that boots systemd (scripts/vm-systemd: the shared cgroup-v2-only VM's images with
# systemd and D-Bus added, built once into their own directory; systemd is PID 1 and the
# tests run as a unit), once with cgroup v2 only and once with systemd's hybrid layout.
# The binaries are static, so the VM needs nothing of ours. In the cgroup v2 boot, also
# the CRI pod flow with SystemdCgroup = true (crates/cli/tests/cri.rs, `under_systemd`;
# the image has containerd, runc, the CNI plugins, docker-registry, skopeo).
# usage: scripts/test-systemd.sh SHARED/vm [TEST FILTER...]
set -euo pipefail
cd "$(dirname "$0")/.."
vm=${1:?usage: test-systemd.sh SHARED/vm [TEST FILTER...]}
shift

log=/tmp/lindocker-vm-systemd-setup.log
scripts/vm-systemd/setup.sh "$vm" >"$log" 2>&1 || { tail -30 "$log"; exit 1; }

cargo test --locked -p lindocker-cli --test runtime_systemd --test cri --no-run 2>/dev/null
dir=$(mktemp -d /tmp/lindocker-systemd.XXXXXX)
trap 'rm -rf "$dir"' EXIT
bin=$(ls -t target/x86_64-unknown-linux-gnu/debug/deps/runtime_systemd-* | grep -v '\.d$' | head -1)
debug=target/x86_64-unknown-linux-gnu/debug
# Without debug info (135 MB -> ~15 MB): every start reads the binary over 9p under TCG.
strip --strip-debug -o "$dir/runtime_systemd" "$bin"
cri=$(ls -t target/x86_64-unknown-linux-gnu/debug/deps/cri-* | grep -v '\.d$' | head -1)
strip --strip-debug -o "$dir/cri" "$cri"
# Both test binaries in one boot, each one's time to stderr; a filter goes to both.
# The runtime runs from the VM's disk: from the 9p share every start is ~3x slower under
# TCG (~1 s), enough for containerd's 10 s limits on a pod's teardown to run out.
cat >"$dir/tests.sh" <<'EOF'
install -m 0755 "$LINDOCKER_RUNTIME_BIN" /usr/local/bin/runtime-under-test
export LINDOCKER_RUNTIME_BIN=/usr/local/bin/runtime-under-test
rc=0 t=$SECONDS
./runtime_systemd --test-threads=1 "$@" || rc=$?
echo "test-systemd: runtime_systemd $((SECONDS - t)) s" >&2; t=$SECONDS
if [ "${LINDOCKER_SYSTEMD_CRI:-}" = 1 ]; then
  [ $# -gt 0 ] || set -- under_systemd
  ./cri --test-threads=1 "$@" || rc=$?
  echo "test-systemd: cri $((SECONDS - t)) s" >&2
fi
exit $rc
EOF
strip --strip-debug -o "$dir/lindocker-runtime" $debug/lindocker-runtime
cp $debug/lindocker-checker /bin/busybox "$dir/"
# LINDOCKER_SYSTEMD_RUNTIME may name another runtime binary (an old one, to see the tests
# fail there).
rt=lindocker-runtime
if [ -n "${LINDOCKER_SYSTEMD_RUNTIME:-}" ]; then cp "$LINDOCKER_SYSTEMD_RUNTIME" "$dir/other-runtime"; rt=other-runtime; fi
# Twice: systemd on cgroup v2 only, then systemd in hybrid mode (v1 controllers, cgroup2
# at /sys/fs/cgroup/unified; run-in-vm.sh -H). The tests find the layout themselves.
# LINDOCKER_SYSTEMD_LAYOUTS picks (default "v2 hybrid"). The VMs run side by side (under
# TCG a VM leaves much of a core idle: systemd jobs, sleeps); each one's output is printed
# when all are done, with its exit status and time.
rc=0 pids=() layouts=()
for layout in ${LINDOCKER_SYSTEMD_LAYOUTS:-v2 hybrid}; do
  case $layout in
    v2) flag=(-e LINDOCKER_SYSTEMD_CRI=1) ;;
    hybrid) flag=(-H) ;;
    *) echo "test-systemd: unknown layout $layout (v2 or hybrid)" >&2; exit 2 ;;
  esac
  (
    start=$SECONDS r=0
    scripts/vm-systemd/run-in-vm.sh "${flag[@]}" -t 1200 -m 2G \
      -e LINDOCKER_RUNTIME_BIN=/mnt/host/$rt \
      -e LINDOCKER_CHECKER=/mnt/host/lindocker-checker \
      -e LINDOCKER_BUSYBOX=/mnt/host/busybox \
      -e RUST_BACKTRACE=1 \
      "$dir" -- bash ./tests.sh "$@" >"$dir/$layout.log" 2>&1 || r=$?
    echo "== systemd with cgroup $layout: exit $r in $((SECONDS - start)) s" >>"$dir/$layout.log"
    exit $r
  ) &
  pids+=($!) layouts+=("$layout")
done
for i in "${!pids[@]}"; do
  r=0; wait "${pids[$i]}" || r=$?
  echo "== systemd with cgroup ${layouts[$i]}"
  cat "$dir/${layouts[$i]}.log"
  [ $r = 0 ] || rc=$r
done
exit $rc
