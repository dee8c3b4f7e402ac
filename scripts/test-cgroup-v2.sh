#!/usr/bin/env bash
# Runs the cgroup v2 tests (crates/cli/tests/cgroups.rs, the same tests the host runs on v1) inside
# the cgroup-v2-only VM. The binaries are static, so the VM needs nothing of ours.
set -euo pipefail
cd "$(dirname "$0")/.."
vm=${1:?usage: test-cgroup-v2.sh SHARED/vm}

"$vm/setup.sh" >/tmp/lindocker-vm-setup.log 2>&1 || { tail -30 /tmp/lindocker-vm-setup.log; exit 1; }

# The test binary cargo built for cgroup_v2.rs (newest one).
cargo test --locked -p lindocker-cli --test cgroups --no-run 2>/dev/null
bin=$(ls -t target/x86_64-unknown-linux-gnu/debug/deps/cgroups-* | grep -v '\.d$' | head -1)
dir=$(mktemp -d /tmp/lindocker-v2.XXXXXX)
trap 'rm -rf "$dir"' EXIT
cp "$bin" "$dir/cgroups"
cp target/x86_64-unknown-linux-gnu/debug/lindocker-runtime target/x86_64-unknown-linux-gnu/debug/lindocker-checker /bin/busybox "$dir/"
"$vm/run-in-vm.sh" -t 900 -m 2G \
  -e LINDOCKER_RUNTIME_BIN=/mnt/host/lindocker-runtime \
  -e LINDOCKER_CHECKER=/mnt/host/lindocker-checker \
  -e LINDOCKER_BUSYBOX=/mnt/host/busybox \
  -e RUST_BACKTRACE=1 \
  "$dir" -- ./cgroups --test-threads=1
