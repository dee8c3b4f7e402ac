#!/bin/bash
# run-in-vm.sh (systemd) - the shared VM's run-in-vm.sh (/work/shared/vm), changed to boot
# systemd as PID 1 (images from scripts/vm-systemd/setup.sh): the command runs as a systemd
# service, with D-Bus, so the runtime's systemd cgroup driver can be tested.
# Otherwise as the shared one: a throw-away QEMU VM whose only cgroup
# hierarchy is cgroup v2 (all controllers enabled in the root's cgroup.subtree_control),
# with HOST_DIR shared (9p) at /mnt/host. Prints the command's stdout/stderr and exits
# with its exit status. With -H, systemd runs in hybrid mode instead: cgroup v1
# controllers under a tmpfs at /sys/fs/cgroup, cgroup2 (no controllers) at
# /sys/fs/cgroup/unified, as on a host with systemd.unified_cgroup_hierarchy=0.
#
# usage: run-in-vm.sh [options] HOST_DIR -- COMMAND [ARGS...]
#   -e NAME=VALUE  set an environment variable for COMMAND (repeatable)
#   -m MEM         guest RAM (default $VM_MEM or 2G)
#   -c N           vCPUs (default $VM_SMP or 2)
#   -t SECONDS     wall-clock limit for the whole VM (default $VM_TIMEOUT or 3600; 0 = none)
#   -w DIR         working directory in the guest (default /mnt/host)
#   -r             share HOST_DIR read-only
#   -v             copy the guest console (kernel + init messages) to stderr
#   -T             print boot/command timings to stderr at the end
#   -k             keep the per-run directory (console.log, rc, ...) and print its path
#   -H             boot systemd in hybrid cgroup mode (v1 controllers + cgroup2 at
#                  /sys/fs/cgroup/unified) instead of cgroup v2 only
# environment:
#   VM_ACCEL=auto|kvm|tcg  (auto: kvm only if /dev/kvm is usable and the CPU has vmx/svm)
#   VM_APPEND              extra kernel command-line arguments
#   VM_MODULES             extra kernel modules to modprobe before COMMAND (space separated)
#   VMTEST_IMAGES          directory with vmlinux, initramfs.cpio.gz, rootfs.ext4 (setup.sh;
#                          default /var/cache/vmtest/images)
#   VM_KERNEL / VM_INITRD / VM_ROOTFS   override single artefacts
#   QEMU                   qemu binary (default qemu-system-x86_64)
# exit status: COMMAND's; 124 if the time limit hit; 125 if the VM died without
# reporting a status (the tail of the console log goes to stderr).
#
# The root disk is attached with snapshot=on: the guest may write anywhere (/, /var/tmp),
# nothing persists, and several runs can share one image concurrently.
set -uo pipefail

HERE=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
IMAGES=${VMTEST_IMAGES:-${LINDOCKER_VM_SYSTEMD:-/var/cache/lindocker-vm-systemd}/images}
KERNEL=${VM_KERNEL:-$IMAGES/vmlinux}
INITRD=${VM_INITRD:-$IMAGES/initramfs.cpio.gz}
ROOTFS=${VM_ROOTFS:-$IMAGES/rootfs.ext4}
QEMU=${QEMU:-qemu-system-x86_64}
MEM=${VM_MEM:-2G}
SMP=${VM_SMP:-2}
TIMEOUT=${VM_TIMEOUT:-3600}
WORKDIR=/mnt/host
RO=0 VERBOSE=0 TIMING=0 KEEP=0 HYBRID=0
ENVS=()

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 125; }
die() { echo "run-in-vm: $*" >&2; exit 125; }

while getopts "e:m:c:t:w:rvTkHh" o; do
    case $o in
        e) [[ $OPTARG == [A-Za-z_]*=* ]] || die "-e wants NAME=VALUE"; ENVS+=("$OPTARG") ;;
        m) MEM=$OPTARG ;; c) SMP=$OPTARG ;; t) TIMEOUT=$OPTARG ;; w) WORKDIR=$OPTARG ;;
        r) RO=1 ;; v) VERBOSE=1 ;; T) TIMING=1 ;; k) KEEP=1 ;; H) HYBRID=1 ;; *) usage ;;
    esac
done
shift $((OPTIND - 1))
[ $# -ge 3 ] && [ "$2" = "--" ] || usage
HOST_DIR=$(readlink -f "$1") || die "bad HOST_DIR $1"
[ -d "$HOST_DIR" ] || die "HOST_DIR $1 is not a directory"
shift 2

for f in "$KERNEL" "$INITRD" "$ROOTFS"; do
    [ -r "$f" ] || die "missing $f - run $HERE/setup.sh first"
done
command -v "$QEMU" >/dev/null || die "$QEMU not found - run $HERE/setup.sh first"

# ------------------------------------------------------------------ accelerator
ACCEL=${VM_ACCEL:-auto}
if [ "$ACCEL" = auto ]; then
    # NB: some nested setups (e.g. a PVM host: /dev/kvm present, no vmx/svm flag) expose
    # /dev/kvm but cannot run an unmodified guest kernel - it hangs silently. So require
    # the hardware flag as well.
    if [ -r /dev/kvm ] && [ -w /dev/kvm ] && grep -qwE 'vmx|svm' /proc/cpuinfo; then ACCEL=kvm; else ACCEL=tcg; fi
fi
case $ACCEL in
    kvm) ACCEL_ARGS=(-accel kvm -cpu host) ;;
    tcg) ACCEL_ARGS=(-accel tcg,thread=multi -cpu max) ;;   # max: AVX2 etc. for host-built binaries
    *) die "VM_ACCEL must be auto, kvm or tcg" ;;
esac

# ------------------------------------------------------------------ per-run directory
RUN=$(mktemp -d "${TMPDIR:-/tmp}/vmtest.XXXXXX") || die "mktemp failed"
SHARE=$RUN/share            # 9p "vmctl": init.sh, cmd.sh, env in; rc, times out
mkdir -p "$SHARE"
QPID= CATS=()
cleanup() {
    [ -n "$QPID" ] && kill "$QPID" 2>/dev/null
    for f in "$RUN"/*.fifo; do [ -p "$f" ] && : 1<>"$f"; done 2>/dev/null   # release blocked readers
    for p in "${CATS[@]}"; do wait "$p" 2>/dev/null; done
    if [ $KEEP = 1 ]; then echo "run-in-vm: run directory kept: $RUN" >&2; else rm -rf "$RUN"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

{
    echo "export VMTEST_WORKDIR=$(printf '%q' "$WORKDIR")"
    echo "export VMTEST_MODULES=$(printf '%q' "${VM_MODULES:-}")"
    echo "export VMTEST_HYBRID=$HYBRID"
    for e in "${ENVS[@]}"; do echo "export ${e%%=*}=$(printf '%q' "${e#*=}")"; done
} > "$SHARE/env"
{ echo 'exec >&3 2>&4 3>&- 4>&-'; printf 'exec'; printf ' %q' "$@"; echo; } > "$SHARE/cmd.sh"

cat > "$SHARE/init.sh" <<'GUEST_INIT'
# stage 2 - PID 1 on the real root (ext4, snapshot=on), run by the rootfs' static busybox
# sh. Stage 1 (initramfs) already mounted /proc /sys /dev /run /tmp, cgroup2 at
# /sys/fs/cgroup, the shares at /vmctl and /mnt/host, and brought lo up. Here we give the
# root a unit that runs the command (stage 3) and hand PID 1 to systemd, which starts only
# that unit and D-Bus (nothing of the usual boot: no udev, getty, journald, timers).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
read -r T_INIT _ < /proc/uptime
echo "$T_INIT" > /run/vmtest.t_init
. /vmctl/env
for m in $VMTEST_MODULES; do /sbin/modprobe -q "$m" || echo "vmtest: modprobe $m failed" > /dev/console; done
if [ "$VMTEST_HYBRID" = 1 ]; then
    # -H: give the controllers back (stage 1 enabled them in the root's subtree_control;
    # no cgroup is below the root yet) and unmount stage 1's cgroup2, so that systemd
    # (booted with systemd.unified_cgroup_hierarchy=0) mounts its own tmpfs, the v1
    # controllers and cgroup2 at /sys/fs/cgroup/unified.
    for c in $(cat /sys/fs/cgroup/cgroup.subtree_control); do
        echo "-$c" > /sys/fs/cgroup/cgroup.subtree_control || echo "vmtest: cannot disable $c" > /dev/console
    done
    umount /sys/fs/cgroup || echo "vmtest: cannot unmount /sys/fs/cgroup" > /dev/console
fi
U=/etc/systemd/system
mkdir -p $U/dbus.service.d $U/dbus.socket.d
printf '[Unit]\nDefaultDependencies=no\n' > $U/dbus.service.d/vmtest.conf
printf '[Unit]\nDefaultDependencies=no\n' > $U/dbus.socket.d/vmtest.conf
cat > $U/vmtest.service <<'EOF'
[Unit]
Description=vmtest command
DefaultDependencies=no
Wants=dbus.service
After=dbus.service

[Service]
Type=simple
ExecStart=/usr/local/bin/busybox sh /vmctl/stage3.sh
StandardInput=null
StandardOutput=journal+console
EOF
exec /lib/systemd/systemd --unit=vmtest.service --show-status=0
echo "vmtest: cannot exec systemd" > /dev/console
echo o > /proc/sysrq-trigger
GUEST_INIT

cat > "$SHARE/stage3.sh" <<'GUEST_INIT'
# stage 3 - the command, as systemd's vmtest.service (in /system.slice/vmtest.service).
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 TERM=dumb
read -r T_INIT _ < /run/vmtest.t_init
say() { echo "vmtest: $*" > /dev/console; }
off() { sync; echo o > /proc/sysrq-trigger; sleep 30; exit 1; }
report() { echo "$1" > /vmctl/rc.tmp && mv /vmctl/rc.tmp /vmctl/rc; }
. /vmctl/env

# command output: virtio-serial ports named vmtest.stdout / vmtest.stderr
OUT= ERR= i=0
while [ $i -lt 300 ]; do
    for p in /sys/class/virtio-ports/*; do
        [ -r "$p/name" ] || continue
        read -r n < "$p/name"
        case $n in
            vmtest.stdout) OUT=/dev/${p##*/} ;;
            vmtest.stderr) ERR=/dev/${p##*/} ;;
        esac
    done
    [ -n "$OUT" ] && [ -n "$ERR" ] && [ -c "$OUT" ] && [ -c "$ERR" ] && break
    OUT= ERR=; i=$((i + 1)); usleep 10000
done
[ -n "$OUT" ] || { say "virtio ports missing"; OUT=/dev/console ERR=/dev/console; }
# A virtio port may be opened only once at a time, so relay through FIFOs: then
# /dev/stdout, /proc/self/fd/1 etc. can be reopened by the command as usual.
mkfifo /run/vmtest.out /run/vmtest.err
cat /run/vmtest.out > "$OUT" & R1=$!
cat /run/vmtest.err > "$ERR" & R2=$!

cd "$VMTEST_WORKDIR" || { say "no workdir $VMTEST_WORKDIR"; report 125; off; }
read -r T_CMD _ < /proc/uptime
# bash, not busybox sh: the standalone busybox shell would run its own applets (sh, ls,
# mount, ...) instead of the rootfs binaries found in PATH.
# (stdout/stderr are handed over as fds 3/4 so that this shell's own job messages such as
# "Killed" go to the console log, not into the command's stderr.)
/bin/bash /vmctl/cmd.sh < /dev/null 3> /run/vmtest.out 4> /run/vmtest.err
RC=$?
read -r T_END _ < /proc/uptime
# wait for the relays to drain (bounded: a leftover daemon may keep the FIFOs open)
i=0
while [ $i -lt 200 ] && { kill -0 $R1 2>/dev/null || kill -0 $R2 2>/dev/null; }; do i=$((i + 1)); usleep 10000; done
kill $R1 $R2 2>/dev/null
echo "init=$T_INIT (systemd) cmd_start=$T_CMD cmd_end=$T_END" > /vmctl/times
report $RC
off
GUEST_INIT

mkfifo "$RUN/stdout.fifo" "$RUN/stderr.fifo" "$RUN/console.fifo" || die "mkfifo failed"
cat "$RUN/stdout.fifo" & CATS+=($!)
cat "$RUN/stderr.fifo" >&2 & CATS+=($!)
if [ $VERBOSE = 1 ]; then
    tee "$RUN/console.log" < "$RUN/console.fifo" >&2 & CATS+=($!)
else
    cat "$RUN/console.fifo" > "$RUN/console.log" & CATS+=($!)
fi

if [ "$(id -u)" = 0 ]; then SECMODEL=${VM_SECURITY_MODEL:-passthrough}; else SECMODEL=${VM_SECURITY_MODEL:-none}; fi
HOSTRO=; [ $RO = 1 ] && HOSTRO=,readonly=on
BIOS=(); [ -f /usr/share/qemu/qboot.rom ] && BIOS=(-bios /usr/share/qemu/qboot.rom)
APPEND="console=ttyS0 panic=-1 rdinit=/init"; [ $VERBOSE = 1 ] || APPEND+=" quiet"
if [ $HYBRID = 1 ]; then
    APPEND+=" systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0"
else
    APPEND+=" systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all"
fi
# boot-time savers (matter a lot under TCG)
APPEND+=" cryptomgr.notests tsc=reliable no_timer_check mitigations=off audit=0 random.trust_cpu=on"
APPEND+=" i8042.noaux i8042.nokbd i8042.nopnp i8042.dumbkbd 8250.nr_uarts=1"
APPEND+=" vmtest.host=1 vmtest.msize=262144${VM_DEBUG:+ vmtest.debug=1} ${VM_APPEND:-}"

q() { printf '%s' "${1//,/,,}"; }   # escape commas for QEMU option strings
QARGS=(
    -nodefaults -no-user-config -display none -monitor none -no-reboot
    -machine pc "${ACCEL_ARGS[@]}" -m "$MEM" -smp "$SMP" "${BIOS[@]}"
    -kernel "$KERNEL" -initrd "$INITRD" -append "$APPEND"
    -chardev file,id=con,path="$(q "$RUN")/console.fifo" -serial chardev:con
    -drive file="$(q "$ROOTFS")",if=none,id=root,format=raw,snapshot=on,cache=unsafe,discard=unmap
    -device virtio-blk-pci,drive=root
    -fsdev local,id=vmctl,path="$(q "$SHARE")",security_model=none
    -device virtio-9p-pci,fsdev=vmctl,mount_tag=vmctl
    -fsdev local,id=host,path="$(q "$HOST_DIR")",security_model=$SECMODEL,multidevs=remap$HOSTRO
    -device virtio-9p-pci,fsdev=host,mount_tag=host
    -device virtio-serial-pci,id=vser
    -chardev file,id=out,path="$(q "$RUN")/stdout.fifo" -device virtserialport,bus=vser.0,chardev=out,name=vmtest.stdout
    -chardev file,id=err,path="$(q "$RUN")/stderr.fifo" -device virtserialport,bus=vser.0,chardev=err,name=vmtest.stderr
)

T0=$(date +%s.%N)
if [ "$TIMEOUT" != 0 ]; then
    timeout -k 10 "$TIMEOUT" "$QEMU" "${QARGS[@]}" & QPID=$!
else
    "$QEMU" "${QARGS[@]}" & QPID=$!
fi
wait $QPID; QRC=$?; QPID=
T1=$(date +%s.%N)
for f in "$RUN"/*.fifo; do : 1<>"$f"; done 2>/dev/null   # in case qemu never opened one
for p in "${CATS[@]}"; do wait "$p" 2>/dev/null; done; CATS=()

if [ -s "$SHARE/rc" ]; then
    RC=$(cat "$SHARE/rc")
elif [ "$QRC" = 124 ] || [ "$QRC" = 137 ]; then
    echo "run-in-vm: timed out after ${TIMEOUT}s (accel=$ACCEL); console log tail:" >&2
    tail -n 30 "$RUN/console.log" >&2
    RC=124
else
    echo "run-in-vm: VM exited (qemu rc=$QRC, accel=$ACCEL) without reporting a status; console log tail:" >&2
    tail -n 30 "$RUN/console.log" >&2
    RC=125
fi
if [ $TIMING = 1 ]; then
    times=$(cat "$SHARE/times" 2>/dev/null)
    echo "run-in-vm: accel=$ACCEL wall=$(awk "BEGIN{printf \"%.2f\", $T1 - $T0}")s guest-uptime: $times" >&2
fi
exit "$RC"
