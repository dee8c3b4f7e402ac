#!/usr/bin/env bash
# Runs the cgroup v2 tests (crates/cli/tests/cgroups.rs, the same tests the host runs on v1, and the
# device attacks of crates/cli/tests/security/devices.rs) inside the cgroup-v2-only VM, in one boot.
# The binaries are static, so the VM needs nothing of ours.
set -euo pipefail
cd "$(dirname "$0")/.."
vm=${1:?usage: test-cgroup-v2.sh SHARED/vm}

"$vm/setup.sh" >/tmp/lindocker-vm-setup.log 2>&1 || { tail -30 /tmp/lindocker-vm-setup.log; exit 1; }

# The test binaries cargo built for cgroups.rs and security/ (newest ones).
cargo test --locked -p lindocker-cli --test cgroups --test security --no-run 2>/dev/null
dir=$(mktemp -d /tmp/lindocker-v2.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for t in cgroups security; do
  bin=$(ls -t target/x86_64-unknown-linux-gnu/debug/deps/$t-* | grep -v '\.d$' | head -1)
  cp "$bin" "$dir/$t"
done
cp target/x86_64-unknown-linux-gnu/debug/lindocker-runtime target/x86_64-unknown-linux-gnu/debug/lindocker-checker /bin/busybox "$dir/"
"$vm/run-in-vm.sh" -t 900 -m 2G \
  -e LINDOCKER_RUNTIME_BIN=/mnt/host/lindocker-runtime \
  -e LINDOCKER_CHECKER=/mnt/host/lindocker-checker \
  -e LINDOCKER_BUSYBOX=/mnt/host/busybox \
  -e RUST_BACKTRACE=1 \
  "$dir" -- sh -c './cgroups --test-threads=1; a=$?; ./security devices:: --test-threads=1; b=$?; [ $a = 0 ] && [ $b = 0 ]'
