#!/usr/bin/env bash
# The whole test suite, as root on this kernel: formatting, lints, unit and integration
# tests (namespaces, mounts, cgroups v1/hybrid for real), then the cgroup v2 tests inside
# a VM whose only hierarchy is cgroup v2 (../shared/vm), and the systemd cgroup driver's in a
# VM that boots systemd (scripts/vm-systemd). .ci/run calls this.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: the tests need root (namespaces, mounts, cgroups)" >&2; exit 1; }

step() { printf '\n== %s\n' "$*"; }

step "format"
cargo fmt --all -- --check
step "clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "build"
cargo build --locked --workspace --bins
step "unit and integration tests (cgroup $(stat -fc %T /sys/fs/cgroup) host)"
cargo test --locked --workspace --no-fail-fast

shared=${LINDOCKER_SHARED:-$(cd .. && pwd)/shared}
if [ -x "$shared/vm/run-in-vm.sh" ]; then
  step "cgroup v2 tests in a cgroup-v2-only VM"
  scripts/test-cgroup-v2.sh "$shared/vm"
  step "systemd cgroup driver tests in a VM that boots systemd"
  scripts/test-systemd.sh "$shared/vm"
else
  echo "test.sh: $shared/vm not found; set LINDOCKER_SHARED to run the cgroup v2 tests" >&2
  exit 1
fi
step "all tests passed"
