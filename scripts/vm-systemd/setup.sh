#!/usr/bin/env bash
# Builds (once; idempotent) the images of a VM that boots systemd: the shared VM's setup.sh
# (Debian 12, cgroup v2 only) with systemd and D-Bus added to its root, into directories of
# its own, so that the shared images stay as they are.
# usage: scripts/vm-systemd/setup.sh SHARED/vm
set -euo pipefail
vm=${1:?usage: setup.sh SHARED/vm}
export VMTEST_IMAGES=${LINDOCKER_VM_SYSTEMD:-/var/cache/lindocker-vm-systemd}/images
export VMTEST_BUILD=${LINDOCKER_VM_SYSTEMD:-/var/cache/lindocker-vm-systemd}/build
export EXTRA_PKGS=systemd,systemd-sysv,dbus,containerd,runc,containernetworking-plugins,docker-registry,skopeo

# debootstrap of these packages leaves /proc mounted in the build tree (a package's
# maintainer script keeps it busy when debootstrap unmounts): unmount what is left there,
# before setup.sh (which may rm -rf the tree) and after.
unmount_leftovers() {
  awk -v root="$VMTEST_BUILD/rootfs/" 'index($5, root) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r m; do umount "$m" || umount -l "$m"; done
}
unmount_leftovers
rc=0
"$vm/setup.sh" || rc=$?
unmount_leftovers
exit $rc
