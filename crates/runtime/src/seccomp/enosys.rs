//! The -ENOSYS stub put before a compiled filter, as runc's `patchbpf` does.
//!
//! A profile lists syscalls by name; the ones this libseccomp does not know (newer than
//! it: Debian's 2.5.4 knows nothing after Linux 5.x, so not `fchmodat2`, `statmount`,
//! `futex_wait`...) cannot be allowed and would get the profile's default errno, EPERM.
//! libc and programs take EPERM for a real refusal and fail (glibc's `fchmodat` with
//! AT_SYMLINK_NOFOLLOW, util-linux's `statmount`); they take ENOSYS for "this kernel
//! does not have it" and fall back to the older call. So, for each architecture, a
//! syscall numbered above the newest one the profile names gets ENOSYS before the
//! filter sees it, which is what runc (and so Docker and containerd) do.
//!
//! The stub is a few classic-BPF instructions:
//!
//! ```text
//!   ld  [4]                      ; seccomp_data.arch
//!   jeq ARCH_a, section_a        ; one per architecture with a stub
//!   ja  filter                   ; any other architecture
//! section_a:
//!   ld  [0]                      ; seccomp_data.nr
//!   jset X32_BIT, ...            ; x86_64 only: x32 calls have their own newest
//!   jgt NEWEST_a, enosys, filter
//!   ...
//! enosys:
//!   ret ERRNO(ENOSYS)
//! filter:                        ; libseccomp's program, unchanged
//! ```

use libseccomp::{ScmpArch, ScmpSyscall};

const BPF_LD_W_ABS: u16 = 0x20;
const BPF_JMP_JA: u16 = 0x05;
const BPF_JMP_JEQ_K: u16 = 0x15;
const BPF_JMP_JGT_K: u16 = 0x25;
const BPF_JMP_JSET_K: u16 = 0x45;
const BPF_RET_K: u16 = 0x06;
/// `SECCOMP_RET_ERRNO | ENOSYS`.
const RET_ENOSYS: u32 = 0x0005_0000 | libc::ENOSYS as u32;
/// `__X32_SYSCALL_BIT`: set in the number of every x32 call (arch AUDIT_ARCH_X86_64).
const X32_SYSCALL_BIT: u32 = 0x4000_0000;
const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;

/// The kernel's `AUDIT_ARCH_*` of `arch`, for the architectures the stub handles (s390's
/// multiplexed syscall numbers and the MIPS ABIs are left to the filter, with the
/// profile's default errno, as before).
fn audit_arch(arch: ScmpArch) -> Option<u32> {
    Some(match arch {
        ScmpArch::X8664 | ScmpArch::X32 => AUDIT_ARCH_X86_64,
        ScmpArch::X86 => 0x4000_0003,
        ScmpArch::Aarch64 => 0xc000_00b7,
        ScmpArch::Arm => 0x4000_0028,
        ScmpArch::Riscv64 => 0xc000_00f3,
        ScmpArch::Ppc64Le => 0xc000_0015,
        ScmpArch::Loongarch64 => 0xc000_0102,
        _ => return None,
    })
}

/// One kernel architecture's newest syscall numbers in the profile: of its native calls,
/// and of its x32 calls (x86_64 only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Newest {
    audit: u32,
    native: Option<u32>,
    x32: Option<u32>,
}

/// The newest syscall `names` has on each of `arches` (the native one added: libseccomp
/// always filters it), by number on that architecture.
pub fn newest<'a>(arches: &[ScmpArch], names: impl Iterator<Item = &'a str> + Clone) -> Vec<Newest> {
    let mut all = arches.to_vec();
    all.push(ScmpArch::native());
    let mut out: Vec<Newest> = Vec::new();
    for arch in all {
        let Some(audit) = audit_arch(arch) else { continue };
        let max = names
            .clone()
            .filter_map(|name| ScmpSyscall::from_name_by_arch(name, arch).ok())
            .map(|s| s.as_raw_syscall())
            .filter(|&n| n >= 0)
            .max()
            .map(|n| n as u32);
        let Some(max) = max else { continue };
        let entry = match out.iter_mut().find(|n| n.audit == audit) {
            Some(entry) => entry,
            None => {
                out.push(Newest { audit, native: None, x32: None });
                out.last_mut().expect("just pushed")
            }
        };
        if arch == ScmpArch::X32 {
            entry.x32 = Some(max | X32_SYSCALL_BIT);
        } else {
            entry.native = Some(max);
        }
    }
    out
}

/// Where a jump goes.
#[derive(Clone, Copy)]
enum To {
    /// The next instruction.
    Next,
    /// `n` instructions further than the next.
    Skip(usize),
    /// The start of an architecture's section.
    Section(usize),
    /// `ret ERRNO(ENOSYS)`.
    Enosys,
    /// The first instruction of libseccomp's program.
    Filter,
}

struct Insn {
    code: u16,
    jt: To,
    jf: To,
    k: u32,
}

fn op(code: u16, k: u32) -> Insn {
    Insn { code, jt: To::Next, jf: To::Next, k }
}

fn jump(code: u16, k: u32, jt: To, jf: To) -> Insn {
    Insn { code, jt, jf, k }
}

/// The instructions that test one architecture's syscall number.
fn section(n: &Newest) -> Vec<Insn> {
    let mut out = vec![op(BPF_LD_W_ABS, 0)];
    let newer = |max: u32| jump(BPF_JMP_JGT_K, max, To::Enosys, To::Filter);
    if n.audit == AUDIT_ARCH_X86_64 {
        match (n.native, n.x32) {
            (Some(native), Some(x32)) => {
                out.push(jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, To::Skip(1), To::Next));
                out.push(newer(native));
                out.push(newer(x32));
            }
            (Some(native), None) => {
                out.push(jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, To::Filter, To::Next));
                out.push(newer(native));
            }
            (None, Some(x32)) => {
                out.push(jump(BPF_JMP_JSET_K, X32_SYSCALL_BIT, To::Next, To::Filter));
                out.push(newer(x32));
            }
            (None, None) => out.push(jump(BPF_JMP_JA, 0, To::Filter, To::Filter)),
        }
    } else {
        out.push(newer(n.native.unwrap_or(u32::MAX)));
    }
    out
}

/// The stub for `newest`, as `sock_filter` bytes to put before libseccomp's program;
/// empty when there is nothing to test.
pub fn stub(newest: &[Newest]) -> Vec<u8> {
    if newest.is_empty() {
        return Vec::new();
    }
    let mut program = vec![op(BPF_LD_W_ABS, 4)];
    for (i, n) in newest.iter().enumerate() {
        program.push(jump(BPF_JMP_JEQ_K, n.audit, To::Section(i), To::Next));
    }
    program.push(jump(BPF_JMP_JA, 0, To::Filter, To::Filter));
    let mut starts = Vec::new();
    for n in newest {
        starts.push(program.len());
        program.extend(section(n));
    }
    let enosys = program.len();
    program.push(op(BPF_RET_K, RET_ENOSYS));
    let filter = program.len();

    let mut bytes = Vec::with_capacity(program.len() * 8);
    for (pc, insn) in program.iter().enumerate() {
        let offset = |to: To| -> usize {
            let target = match to {
                To::Next => pc + 1,
                To::Skip(n) => pc + 1 + n,
                To::Section(i) => starts[i],
                To::Enosys => enosys,
                To::Filter => filter,
            };
            target - (pc + 1)
        };
        // `ja` jumps by k; the others by their 8-bit jt/jf (the stub is far shorter than
        // 255 instructions, so every target is in reach).
        let (jt, jf, k) = if insn.code == BPF_JMP_JA {
            (0, 0, offset(insn.jt) as u32)
        } else {
            let short = |to| u8::try_from(offset(to)).expect("the stub is short");
            (short(insn.jt), short(insn.jf), insn.k)
        };
        bytes.extend_from_slice(&insn.code.to_ne_bytes());
        bytes.push(jt);
        bytes.push(jf);
        bytes.extend_from_slice(&k.to_ne_bytes());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_per_architecture_with_x32_apart() {
        let names = ["read", "write", "openat", "no_such_syscall"];
        let n = newest(&[ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32], names.iter().copied());
        let x86_64 = n.iter().find(|n| n.audit == AUDIT_ARCH_X86_64).unwrap();
        assert_eq!(x86_64.native, Some(257), "openat on x86_64");
        assert_eq!(x86_64.x32, Some(257 | X32_SYSCALL_BIT), "openat on x32");
        let i386 = n.iter().find(|n| n.audit == 0x4000_0003).unwrap();
        assert_eq!(i386.native, Some(295), "openat on i386");
        assert_eq!(n.len(), 2);
    }

    #[test]
    fn the_stub_is_whole_instructions_ending_in_enosys() {
        let n = newest(&[ScmpArch::X8664, ScmpArch::X86, ScmpArch::X32], ["openat"].into_iter());
        let bytes = stub(&n);
        assert_eq!(bytes.len() % 8, 0);
        let last = &bytes[bytes.len() - 8..];
        assert_eq!(u16::from_ne_bytes([last[0], last[1]]), BPF_RET_K);
        assert_eq!(u32::from_ne_bytes([last[4], last[5], last[6], last[7]]), RET_ENOSYS);
        assert!(stub(&[]).is_empty());
    }
}
