#!/usr/bin/env bash
# Pod start through containerd's CRI: lindocker-runtime vs runc as runtime handlers of the
# same containerd (Debian's 1.6, its runc v2 shim, a bridge CNI network), in one run.
# The test kit's lindocker-cri-bench starts a private containerd inside a throw-away
# network namespace (root, state, socket, CNI config under a temp dir; pause and busybox
# images from a loopback registry in that namespace), then per round and handler times
# RunPodSandbox + CreateContainer + StartContainer, and the teardown apart (StopContainer,
# RemoveContainer, StopPodSandbox, RemovePodSandbox); handlers alternate round by round.
# Prints medians, p90s and lindocker's ratio to runc. Everything it made is gone after.
#
# The client is the test kit's debug build (it only waits on gRPC answers; both handlers
# pay the same for it); lindocker-runtime is the release build, like the other benches.
#
# Usage: bench/cri.sh [ROUNDS]   (as root; needs containerd, containernetworking-plugins,
# runc, docker-registry, skopeo: scripts/install.sh installs them)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-20}
lindocker=${LINDOCKER_RUNTIME:-$PWD/target/x86_64-unknown-linux-gnu/release/lindocker-runtime}
[ -x "$lindocker" ] || cargo build --release --locked -p lindocker-cli --bin lindocker-runtime
for t in containerd containerd-shim-runc-v2 runc docker-registry skopeo /usr/lib/cni/bridge; do
  command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/install.sh installs it)" >&2; exit 1; }
done
cargo build --locked -p lindocker-testkit --bin lindocker-cri-bench --bin lindocker-checker >&2
debug=$PWD/target/x86_64-unknown-linux-gnu/debug
echo "lindocker-runtime: $lindocker; runc: $(runc --version | head -1); $(containerd --version)"
LINDOCKER_CHECKER=$debug/lindocker-checker "$debug/lindocker-cri-bench" "$lindocker" "$rounds"
