#!/usr/bin/env bash
# Builds (once; idempotent) the images of a VM that boots systemd: the shared VM's setup.sh
# (Debian 12, cgroup v2 only) with systemd and D-Bus added to its root, into directories of
# its own, so that the shared images stay as they are.
# usage: scripts/vm-systemd/setup.sh SHARED/vm
set -euo pipefail
vm=${1:?usage: setup.sh SHARED/vm}
export VMTEST_IMAGES=${LINDOCKER_VM_SYSTEMD:-/var/cache/lindocker-vm-systemd}/images
export VMTEST_BUILD=${LINDOCKER_VM_SYSTEMD:-/var/cache/lindocker-vm-systemd}/build
export EXTRA_PKGS=systemd,systemd-sysv,dbus
exec "$vm/setup.sh"
