#!/usr/bin/env bash
# Installs lindocker on Debian 12 as root: system packages, a release build, the binaries
# in /usr/local/bin; then runs a first container to show it works.
set -euo pipefail
cd "$(dirname "$0")/.."

[ "$(id -u)" = 0 ] || { echo "install.sh: run as root (it installs packages and binaries)" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
# What building and testing need: a C toolchain for -sys crates, busybox-static for test
# root filesystems and the first image, the reference registry, skopeo and htpasswd for
# the image tests, podman (pulls what `push` sent) and buildah, and the runtimes and tools the
# benchmarks compare against (netavark and aardvark-dns: Podman's DNS, for bench/network.sh);
# containerd (1.6, its CRI plugin) and containernetworking-plugins (the bridge CNI) for the
# CRI test and bench/cri.sh, which start their own containerd (the packaged service is not
# needed and is disabled below); protobuf-compiler: protoc builds the CRI client's protos.
apt-get update -q
apt-get install -y -q --no-install-recommends \
  build-essential pkg-config ca-certificates busybox-static iproute2 nftables \
  libseccomp-dev runc crun hyperfine strace golang-github-containers-common podman buildah \
  docker-registry skopeo umoci apache2-utils gzip zstd iperf3 aardvark-dns netavark \
  containerd containernetworking-plugins protobuf-compiler >/dev/null
if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl disable --now containerd.service >/dev/null 2>&1 || true
fi

# The Docker Engine API's tests drive real clients: docker-compose (1.29) and the Python
# SDK from Debian, and the docker CLI. Debian has the CLI only in docker.io, which also
# ships dockerd: it is installed with a policy-rc.d that forbids starting any service, and
# its units are disabled afterwards, so no Docker daemon runs (lindocker serves the API).
apt-get install -y -q --no-install-recommends docker-compose python3-docker >/dev/null
if ! command -v docker >/dev/null; then
  policy=/usr/sbin/policy-rc.d
  if [ -e "$policy" ]; then
    echo "install.sh: $policy exists; not installing docker.io (install a docker CLI yourself)" >&2
  else
    printf '#!/bin/sh\n# install.sh: no service starts while docker.io is installed\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    trap 'rm -f "$policy"' EXIT
    apt-get install -y -q --no-install-recommends docker.io >/dev/null
    rm -f "$policy"
    trap - EXIT
    if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
      systemctl disable --now docker.socket docker.service containerd.service >/dev/null 2>&1 || true
    fi
  fi
fi

if ! command -v cargo >/dev/null; then
  echo "install.sh: cargo not found; install a Rust toolchain (rustup, Rust 1.85 or newer) first" >&2
  exit 1
fi
cargo build --release --locked --workspace --bins
install -m 0755 target/x86_64-unknown-linux-gnu/release/lindocker-runtime /usr/local/bin/lindocker-runtime
install -m 0755 target/x86_64-unknown-linux-gnu/release/lindocker /usr/local/bin/lindocker
install -m 0755 target/x86_64-unknown-linux-gnu/release/lindocker-shim /usr/local/bin/lindocker-shim
install -m 0755 target/x86_64-unknown-linux-gnu/release/lindocker-dns /usr/local/bin/lindocker-dns
install -m 0755 target/x86_64-unknown-linux-gnu/release/lindocker-proxy /usr/local/bin/lindocker-proxy
install -m 0755 target/x86_64-unknown-linux-gnu/release/lindocker-api /usr/local/bin/lindocker-api

# A first container: busybox from busybox-static, run by lindocker-runtime.
demo=$(mktemp -d /tmp/lindocker-demo.XXXXXX)
cgroup="lindocker-demo-$$"
trap 'rm -rf "$demo"; rmdir /sys/fs/cgroup/*/"$cgroup" /sys/fs/cgroup/"$cgroup" 2>/dev/null || true' EXIT
mkdir -p "$demo/rootfs/bin"
cp /bin/busybox "$demo/rootfs/bin/busybox"
ln -s busybox "$demo/rootfs/bin/sh"
ln -s busybox "$demo/rootfs/bin/echo"
(cd "$demo" && lindocker-runtime spec)
sed -i 's/"terminal": true/"terminal": false/; s/"args": \["sh"\]/"args": ["echo", "hello from lindocker-runtime"]/' "$demo/config.json"
# Its own cgroup parent, removed afterwards (a real container would use /lindocker/ID).
sed -i "s#\"linux\": {#\"linux\": { \"cgroupsPath\": \"/$cgroup/demo\",#" "$demo/config.json"
lindocker-runtime --version
lindocker-runtime run --bundle "$demo" "demo-$$"

# The first image, with no registry needed: localhost/busybox from busybox-static.
mkdir -p "$demo/image/bin" "$demo/image/etc" "$demo/image/root" "$demo/image/tmp"
cp /bin/busybox "$demo/image/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ "$applet" = busybox ] || ln -sf busybox "$demo/image/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$demo/image/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$demo/image/etc/group"
tar -C "$demo/image" -cf "$demo/busybox.tar" .
lindocker image inspect localhost/busybox >/dev/null 2>&1 ||
  lindocker import --change 'CMD ["sh"]' "$demo/busybox.tar" localhost/busybox
lindocker images
