#!/usr/bin/env bash
# Start latency of lindocker-runtime vs crun vs runc: `RUNTIME run` of one busybox bundle
# running /bin/true, with Docker's default capabilities and seccomp profile (converted by
# the test kit from Debian's containers-common copy), interleaved by hyperfine, medians
# and ratios printed. BENCH_SECCOMP=none leaves seccomp and capabilities as `spec` makes them.
#
# crun 1.8 refuses this hybrid host (v1 controllers plus an almost empty cgroup2), so crun
# runs -- and, for fairness, lindocker-runtime runs a second time -- in a private mount
# namespace where /sys/fs/cgroup/unified/cgroup.controllers is covered by an empty file.
#
# Usage: bench/runtime.sh [RUNS]   (as root; needs hyperfine, runc, crun, busybox-static)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-300}
lindocker=${LINDOCKER_RUNTIME:-$PWD/target/x86_64-unknown-linux-gnu/release/lindocker-runtime}
[ -x "$lindocker" ] || cargo build --release --locked -p lindocker-cli
profile_bin=$PWD/target/x86_64-unknown-linux-gnu/release/lindocker-docker-profile
[ -x "$profile_bin" ] || cargo build --release --locked -p lindocker-testkit --bin lindocker-docker-profile
for t in hyperfine runc crun /bin/busybox; do command -v "$t" >/dev/null || { echo "bench: $t missing (scripts/install.sh installs it)" >&2; exit 1; }; done

work=$(mktemp -d /tmp/lindocker-bench.XXXXXX)
trap 'rm -rf "$work"; for d in /sys/fs/cgroup/*/lindocker-bench; do rmdir "$d"/* "$d" 2>/dev/null || true; done' EXIT
mkdir -p "$work/bundle/rootfs/bin" "$work/state"/{lindocker,lindocker-masked,crun,runc}
cp /bin/busybox "$work/bundle/rootfs/bin/busybox"
ln -s busybox "$work/bundle/rootfs/bin/true"
ln -s busybox "$work/bundle/rootfs/bin/sh"
"$lindocker" spec --bundle "$work/bundle"
if [ "${BENCH_SECCOMP:-docker}" = docker ]; then "$profile_bin" > "$work/docker.json"; else echo '{}' > "$work/docker.json"; fi
# One config for all three: no terminal, /bin/true, spec version crun 1.8 accepts.
python3 - "$work/bundle/config.json" "$work/docker.json" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
docker = json.load(open(sys.argv[2]))
if docker:
    c["process"]["capabilities"] = docker["capabilities"]
    c["linux"]["seccomp"] = docker["seccomp"]
c["ociVersion"] = "1.0.2"
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/true"]
c["linux"]["cgroupsPath"] = "/lindocker-bench/c"
json.dump(c, open(p, "w"), indent=1)
PY
: > "$work/empty"
masked() { echo "unshare -m --propagation private -- sh -c 'mount --bind $work/empty /sys/fs/cgroup/unified/cgroup.controllers && exec \"\$@\"' x $*"; }
b="$work/bundle"

hyperfine -N --warmup 20 --runs "$runs" --export-json "$work/result.json" \
  -n lindocker-runtime "$lindocker --root $work/state/lindocker run -b $b bench" \
  -n runc "runc --root $work/state/runc run -b $b bench" \
  -n "lindocker-runtime (masked ns)" "$(masked "$lindocker" --root "$work/state/lindocker-masked" run -b "$b" bench)" \
  -n "crun (masked ns)" "$(masked crun --root "$work/state/crun" run -b "$b" bench)" >&2

python3 - "$work/result.json" "$work/docker.json" <<'PY'
import json, sys
r = {x["command"]: x for x in json.load(open(sys.argv[1]))["results"]}
med = {k: v["median"] * 1000 for k, v in r.items()}
ours, ours_masked = med["lindocker-runtime"], med["lindocker-runtime (masked ns)"]
conf = "Docker's default capabilities and seccomp profile" if json.load(open(sys.argv[2])) else "the spec's defaults, no seccomp"
print(f"config: {conf}")
print(f"{'runtime':32} {'median ms':>10} {'ratio to lindocker-runtime':>28}")
for name, m in med.items():
    base = ours_masked if "masked" in name else ours
    print(f"{name:32} {m:10.2f} {m / base:27.2f}x")
PY
