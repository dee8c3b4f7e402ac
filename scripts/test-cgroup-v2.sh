#!/usr/bin/env bash
# Runs the cgroup v2 tests (crates/cli/tests/cgroups.rs, the same tests the host runs on v1, the
# device attacks of crates/cli/tests/security/devices.rs, the engine's cgroup flags of
# crates/cli/tests/parity/, and the runtime spec's cgroup MUSTs of
# crates/cli/tests/runtime_musts/) inside the cgroup-v2-only VM, in one boot. The VM's kernel is Debian
# 12's 6.1, so the engine's tests there also cover an older kernel than this host's. The
# binaries are static, so the VM needs nothing of ours.
set -euo pipefail
cd "$(dirname "$0")/.."
vm=${1:?usage: test-cgroup-v2.sh SHARED/vm}

"$vm/setup.sh" >/tmp/lindocker-vm-setup.log 2>&1 || { tail -30 /tmp/lindocker-vm-setup.log; exit 1; }

# The test binaries cargo built for cgroups.rs and security/ (newest ones).
cargo test --locked -p lindocker-cli --test cgroups --test security --test parity --test runtime_musts --no-run 2>/dev/null
dir=$(mktemp -d /tmp/lindocker-v2.XXXXXX)
trap 'rm -rf "$dir"' EXIT
for t in cgroups security parity runtime_musts; do
  bin=$(ls -t target/x86_64-unknown-linux-gnu/debug/deps/$t-* | grep -v '\.d$' | head -1)
  cp "$bin" "$dir/$t"
done
debug=target/x86_64-unknown-linux-gnu/debug
cp $debug/lindocker $debug/lindocker-shim $debug/lindocker-runtime $debug/lindocker-checker /bin/busybox "$dir/"
# The engine's flags that reach cgroup v2 files, and a health check (the shim's exec on v2).
parity="ns_resources::memory_reservation ns_resources::cpu_quota ns_resources::update_resource
  extras::cpuset_mems extras::domainname health::a_passing"
"$vm/run-in-vm.sh" -t 900 -m 2G \
  -e LINDOCKER_RUNTIME_BIN=/mnt/host/lindocker-runtime \
  -e LINDOCKER_CHECKER=/mnt/host/lindocker-checker \
  -e LINDOCKER_BUSYBOX=/mnt/host/busybox \
  -e LINDOCKER_BIN=/mnt/host/lindocker \
  -e RUST_BACKTRACE=1 \
  "$dir" -- sh -c "./cgroups --test-threads=1; a=\$?; ./security devices:: --test-threads=1; b=\$?;
    ./parity $(echo $parity) --test-threads=1; c=\$?;
    ./runtime_musts config_linux_cgroup config_linux_unified config_linux_resources_devices --test-threads=1; d=\$?;
    [ \$a = 0 ] && [ \$b = 0 ] && [ \$c = 0 ] && [ \$d = 0 ]"
