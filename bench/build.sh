#!/usr/bin/env bash
# `lindocker build` beside `docker build` (a dockerd started here, in a network namespace
# of its own) and `buildah bud` (its own temporary storage, --isolation chroot, which has
# no network namespace to choose: its RUNs see the host's network): the same
# multi-stage Dockerfile and context, from the same busybox base, every RUN with
# --network none. Three measures (hyperfine medians):
#   1. cold build: --no-cache, the image's name removed before each run;
#   2. no-op rebuild: nothing changed, everything from the cache;
#   3. rebuild after one copied file changed (the prepare step rewrites it).
# Targets: no-op rebuild under 0.2x docker's and under 100 ms; cold at most docker's.
#
# Usage: bench/build.sh [RUNS]   (as root; RUNS for hyperfine, default 10).
# LINDOCKER_BENCH_BUILD=DIR takes the binaries from DIR (see lib.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
runs=${1:-10}
command -v hyperfine >/dev/null || { echo "bench/build.sh: hyperfine is needed" >&2; exit 1; }

work=$(mktemp -d /tmp/lindocker-bench-build.XXXXXX)
run=$(run_dir lindocker-bench-build)
cg="lindocker-bench-build-$$"
dns="lindocker-bench-build-$$"
pids=()
cleanup() {
  remove_work "$work" "${pids[@]}"
  remove_work "$run"
  remove_cgroups "$cg"
  remove_cgroups "$cg-dockerd"
  ip netns del "$dns" 2>/dev/null || true
}
trap cleanup EXIT
export LINDOCKER_ROOT=$work/ld LINDOCKER_STATE=$run/ld-state LINDOCKER_CGROUP_PARENT=/$cg
export DOCKER_CONFIG=$work/docker-config
mkdir -p "$DOCKER_CONFIG"
echo "{}" > "$DOCKER_CONFIG/config.json"

busybox_rootfs "$work/rootfs" "$work/busybox.tar"
"$ld" import -c 'CMD ["sh"]' "$work/busybox.tar" localhost/busybox >/dev/null

# The context: 200 small source files, an app file, the Dockerfile.
ctx=$work/ctx
mkdir -p "$ctx/src"
for i in $(seq 200); do head -c 4096 /dev/urandom | base64 > "$ctx/src/file$i.txt"; done
echo app > "$ctx/app.txt"
cat > "$ctx/Dockerfile" <<'EOF'
FROM localhost/busybox AS build
WORKDIR /src
COPY src/ ./
RUN cat *.txt | wc -c > /src/size && echo built
FROM localhost/busybox
ENV MODE=bench
COPY --from=build /src/size /size
COPY app.txt /app/
RUN echo done > /done
CMD ["cat", "/size"]
EOF
change='head -c 4096 /dev/urandom | base64 > '"$ctx/src/file7.txt"

median() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"]*1000))' "$1"; }
# measure NAME BUILD PREP: the three measures of one tool, whose build command is BUILD
# followed by the context (--no-cache before it for cold builds); PREP removes its image
# (before each cold build).
measure() {
  local name=$1 build=$2 prep=$3
  eval "$build $ctx" >/dev/null 2>&1
  hyperfine --style none --runs "$runs" --prepare "$prep" --export-json "$work/$name-cold.json" \
    -n "$name cold" "$build --no-cache $ctx" >&2
  eval "$build $ctx" >/dev/null 2>&1
  hyperfine --style none --warmup 1 --runs "$runs" --export-json "$work/$name-noop.json" \
    -n "$name no-op" "$build $ctx" >&2
  hyperfine --style none --runs "$runs" --prepare "$change" --export-json "$work/$name-change.json" \
    -n "$name one file" "$build $ctx" >&2
  printf -v "${name}_cold" %s "$(median "$work/$name-cold.json")"
  printf -v "${name}_noop" %s "$(median "$work/$name-noop.json")"
  printf -v "${name}_change" %s "$(median "$work/$name-change.json")"
}

measure ld "$ld build -q --network none -t bench:1" "$ld rmi -f bench:1 >/dev/null 2>&1 || true"

# dockerd 20.10 on a data root and socket of its own, in a network namespace with no
# bridge, no iptables rules, no ip_forward change: nothing of this host's network moves.
have_docker=0
if command -v dockerd >/dev/null && command -v docker >/dev/null; then
  dsock=$run/dockerd.sock
  ip netns add "$dns"
  nsenter --net="/run/netns/$dns" -- dockerd --data-root "$work/dockerd" --exec-root "$run/dockerd-exec" \
    --pidfile "$run/dockerd.pid" -H "unix://$dsock" --bridge none --iptables=false --ip6tables=false \
    --ip-forward=false --ip-masq=false --cgroup-parent "/$cg-dockerd" >"$work/dockerd.log" 2>&1 &
  pids+=($!)
  export DOCKER_HOST=unix://$dsock
  for _ in $(seq 500); do docker version >/dev/null 2>&1 && break; sleep 0.05; done
  docker import -c 'CMD ["sh"]' "$work/busybox.tar" localhost/busybox >/dev/null
  # BuildKit if this docker CLI can drive it (it needs buildx since Docker 23), else the
  # classic builder.
  if DOCKER_BUILDKIT=1 docker build -q --network none -t bench:1 "$ctx" >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=1 docker_builder=BuildKit
  else
    export DOCKER_BUILDKIT=0 docker_builder=classic
  fi
  measure docker "docker build -q --network none -t bench:1" "docker rmi -f bench:1 >/dev/null 2>&1 || true"
  have_docker=1
  unset DOCKER_HOST
fi

# buildah (Debian's) on storage of its own.
have_buildah=0
if command -v buildah >/dev/null; then
  podman_config "$work" "$run"
  bargs="--root $work/buildah --runroot $run/buildah-run --storage-driver overlay"
  "$ld" save -o "$work/busybox-image.tar" localhost/busybox
  buildah $bargs pull -q "docker-archive:$work/busybox-image.tar" >/dev/null
  measure buildah "buildah $bargs bud -q --isolation chroot --layers -t bench:1" \
    "buildah $bargs rmi -f bench:1 >/dev/null 2>&1 || true"
  have_buildah=1
fi

ratio() { python3 -c "print('%.2f' % ($1 / $2))"; }
for m in cold noop change; do
  l=ld_$m d=docker_$m b=buildah_$m
  line="$m: lindocker ${!l} ms"
  [ "$have_docker" = 1 ] && line+=", docker ($docker_builder) ${!d} ms (ratio $(ratio "${!l}" "${!d}")x)"
  [ "$have_buildah" = 1 ] && line+=", buildah ${!b} ms (ratio $(ratio "${!l}" "${!b}")x)"
  echo "$line"
done
echo "targets: no-op under 0.2x docker's and under 100 ms; cold at most docker's"
