//! Device rules on cgroup v2: an eBPF program of type `BPF_PROG_TYPE_CGROUP_DEVICE`,
//! attached to the container's cgroup, that the kernel asks about every `mknod` and every
//! open of a device node by a process of that cgroup (the container's, and every exec'd
//! one, since they join it). Without it, v2 puts no limit on devices at all.
//!
//! The program is built from the reduced rules ([`DeviceRules`]): one block of
//! instructions per exception, each returning the exception's verdict when it matches,
//! then the default. Every exception has the same verdict (the opposite of the default),
//! so their order does not matter. Raw instructions, no compiler: a program is a few
//! dozen of them.
//!
//! The kernel's context (`struct bpf_cgroup_dev_ctx`) is three `u32`: `access_type`
//! (access bits << 16 | device kind), `major`, `minor`. The program returns 1 to allow.

use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;

use crate::Result;
use crate::device_rules::{ALL, DeviceRules, Exception};
use crate::error::io_err;

/// One eBPF instruction (`struct bpf_insn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insn {
    /// Opcode: class | operation | source.
    pub code: u8,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Memory offset, or jump distance in instructions.
    pub off: i16,
    /// Immediate operand.
    pub imm: i32,
}

// Opcodes used (linux/bpf_common.h, linux/bpf.h).
const LDX_MEM_W: u8 = 0x61; // BPF_LDX | BPF_MEM | BPF_W
const ALU32_AND_K: u8 = 0x54; // BPF_ALU | BPF_AND | BPF_K
const ALU32_RSH_K: u8 = 0x74; // BPF_ALU | BPF_RSH | BPF_K
const ALU32_MOV_X: u8 = 0xbc; // BPF_ALU | BPF_MOV | BPF_X
const ALU64_MOV_K: u8 = 0xb7; // BPF_ALU64 | BPF_MOV | BPF_K
const JMP32_JEQ_K: u8 = 0x16; // BPF_JMP32 | BPF_JEQ | BPF_K
const JMP32_JNE_K: u8 = 0x56; // BPF_JMP32 | BPF_JNE | BPF_K
const EXIT: u8 = 0x95; // BPF_JMP | BPF_EXIT

// Registers: r1 holds the context on entry; the prologue spreads it over r2-r5.
const R0: u8 = 0;
const R1: u8 = 1;
const KIND: u8 = 2;
const ACCESS: u8 = 3;
const MAJOR: u8 = 4;
const MINOR: u8 = 5;

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn { code, dst, src, off, imm }
    }

    /// The 8 bytes the kernel reads: fields in the machine's byte order, and the two
    /// register nibbles in bit-field order (dst low on little-endian machines).
    pub fn to_bytes(self) -> [u8; 8] {
        let regs = if cfg!(target_endian = "little") { self.dst | (self.src << 4) } else { (self.dst << 4) | self.src };
        let [o0, o1] = self.off.to_ne_bytes();
        let [i0, i1, i2, i3] = self.imm.to_ne_bytes();
        [self.code, regs, o0, o1, i0, i1, i2, i3]
    }
}

fn ret(verdict: bool) -> [Insn; 2] {
    [Insn::new(ALU64_MOV_K, R0, 0, 0, i32::from(verdict)), Insn::new(EXIT, 0, 0, 0, 0)]
}

/// The program for `rules`.
pub fn compile(rules: &DeviceRules) -> Vec<Insn> {
    let mut prog = vec![
        Insn::new(LDX_MEM_W, KIND, R1, 0, 0),
        Insn::new(ALU32_AND_K, KIND, 0, 0, 0xffff),
        Insn::new(LDX_MEM_W, ACCESS, R1, 0, 0),
        Insn::new(ALU32_RSH_K, ACCESS, 0, 0, 16),
        Insn::new(LDX_MEM_W, MAJOR, R1, 4, 0),
        Insn::new(LDX_MEM_W, MINOR, R1, 8, 0),
    ];
    for ex in &rules.exceptions {
        prog.extend(block(ex, !rules.default_allow));
    }
    prog.extend(ret(rules.default_allow));
    prog
}

/// Instructions that return `verdict` when `ex` matches the access, else fall through.
/// An allowing exception must grant all of the requested access; a denying one matches
/// when it names any of it (as the v1 controller checks).
fn block(ex: &Exception, verdict: bool) -> Vec<Insn> {
    // Jumps to the end of the block are written with offset 0 and fixed below.
    let mut body: Vec<(Insn, bool)> = vec![(Insn::new(JMP32_JNE_K, KIND, 0, 0, ex.kind as i32), true)];
    if verdict {
        if ex.access != ALL {
            body.push((Insn::new(ALU32_MOV_X, R1, ACCESS, 0, 0), false));
            body.push((Insn::new(ALU32_AND_K, R1, 0, 0, i32::from(!ex.access & ALL)), false));
            body.push((Insn::new(JMP32_JNE_K, R1, 0, 0, 0), true));
        }
    } else {
        body.push((Insn::new(ALU32_MOV_X, R1, ACCESS, 0, 0), false));
        body.push((Insn::new(ALU32_AND_K, R1, 0, 0, i32::from(ex.access)), false));
        body.push((Insn::new(JMP32_JEQ_K, R1, 0, 0, 0), true));
    }
    if let Some(major) = ex.major {
        body.push((Insn::new(JMP32_JNE_K, MAJOR, 0, 0, major as i32), true));
    }
    if let Some(minor) = ex.minor {
        body.push((Insn::new(JMP32_JNE_K, MINOR, 0, 0, minor as i32), true));
    }
    body.extend(ret(verdict).map(|i| (i, false)));
    let len = body.len();
    body.into_iter()
        .enumerate()
        .map(|(at, (mut insn, to_end))| {
            if to_end {
                insn.off = (len - at - 1) as i16;
            }
            insn
        })
        .collect()
}

/// The program as the bytes `bpf(BPF_PROG_LOAD)` takes.
pub fn to_bytes(prog: &[Insn]) -> Vec<u8> {
    prog.iter().flat_map(|i| i.to_bytes()).collect()
}

/// Confines the cgroup directory `dir` to `rules`: loads their program and attaches it.
/// When the rules are [complete](DeviceRules::complete), the programs the cgroup had
/// (an update) are detached then, so that at no moment is the cgroup without one;
/// otherwise they stay: an access needs every attached program to allow it, so rules
/// that only amend the old ones can take access away but never grant it.
pub fn install(dir: &Path, rules: &DeviceRules) -> Result<()> {
    use lindocker_sys::bpf;
    let cgroup: OwnedFd = std::fs::File::open(dir).map_err(io_err("open", dir))?.into();
    let old = if rules.complete {
        bpf::prog_query(cgroup.as_fd(), bpf::ATTACH_CGROUP_DEVICE).map_err(io_err("bpf query", dir))?
    } else {
        Vec::new()
    };
    // No GPL-only helper is called, so the license does not matter to the kernel.
    let prog = bpf::prog_load(bpf::PROG_TYPE_CGROUP_DEVICE, &to_bytes(&compile(rules)), c"Apache-2.0")
        .map_err(io_err("bpf load device program for", dir))?;
    bpf::prog_attach(cgroup.as_fd(), prog.as_fd(), bpf::ATTACH_CGROUP_DEVICE, bpf::F_ALLOW_MULTI)
        .map_err(io_err("bpf attach device program to", dir))?;
    for id in old {
        let old = bpf::prog_fd_by_id(id).map_err(io_err("bpf get program of", dir))?;
        bpf::prog_detach(cgroup.as_fd(), old.as_fd(), bpf::ATTACH_CGROUP_DEVICE)
            .map_err(io_err("bpf detach old device program from", dir))?;
    }
    // The cgroup holds the program now; our descriptor may go.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device_rules::{Kind, MKNOD, READ, WRITE};
    use oci_spec::runtime::LinuxDeviceCgroup;

    /// Runs `prog` the way the kernel would on one access, for the instructions
    /// [`compile`] emits; anything else, a backward or out-of-range jump, a read of an
    /// unset register or a missing exit fails the test.
    fn run(prog: &[Insn], kind: Kind, major: u32, minor: u32, access: u8) -> u64 {
        let ctx = [(u32::from(access) << 16) | kind as u32, major, minor];
        let mut reg: [Option<u64>; 11] = [None; 11];
        reg[1] = Some(0); // the context pointer; only used as the base of loads
        let mut pc = 0usize;
        loop {
            let i = *prog.get(pc).unwrap_or_else(|| panic!("ran off the end at {pc}"));
            let get = |r: u8| reg[r as usize].unwrap_or_else(|| panic!("r{r} read before set at {pc}"));
            let mut next = pc + 1;
            let set = match i.code {
                LDX_MEM_W => {
                    assert_eq!(get(i.src), 0, "load from a non-context base");
                    assert!(i.off >= 0 && i.off % 4 == 0 && i.off < 12, "context offset {}", i.off);
                    Some(u64::from(ctx[i.off as usize / 4]))
                }
                ALU32_AND_K => Some(u64::from(get(i.dst) as u32 & i.imm as u32)),
                ALU32_RSH_K => Some(u64::from((get(i.dst) as u32) >> i.imm)),
                ALU32_MOV_X => Some(u64::from(get(i.src) as u32)),
                ALU64_MOV_K => Some(i64::from(i.imm) as u64),
                JMP32_JEQ_K | JMP32_JNE_K => {
                    assert!(i.off >= 0, "backward jump at {pc}");
                    let equal = get(i.dst) as u32 == i.imm as u32;
                    if equal == (i.code == JMP32_JEQ_K) {
                        next = pc + 1 + i.off as usize;
                    }
                    None
                }
                EXIT => return get(R0),
                other => panic!("unexpected opcode {other:#x} at {pc}"),
            };
            if let Some(value) = set {
                reg[i.dst as usize] = Some(value);
            }
            pc = next;
        }
    }

    fn rules(json: &str) -> DeviceRules {
        let list: Vec<LinuxDeviceCgroup> = serde_json::from_str(json).unwrap();
        DeviceRules::from_oci(&list).unwrap()
    }

    #[test]
    fn encoding_of_known_instructions() {
        // r2 = *(u32 *)(r1 + 4): 61 12 04 00 00 00 00 00
        assert_eq!(Insn::new(LDX_MEM_W, 2, 1, 4, 0).to_bytes(), [0x61, 0x12, 4, 0, 0, 0, 0, 0]);
        // if w4 != 254 goto +3: 56 04 03 00 fe 00 00 00
        assert_eq!(Insn::new(JMP32_JNE_K, 4, 0, 3, 254).to_bytes(), [0x56, 0x04, 3, 0, 0xfe, 0, 0, 0]);
        assert_eq!(Insn::new(EXIT, 0, 0, 0, 0).to_bytes(), [0x95, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn deny_all_with_one_device_compiles_to_the_expected_program() {
        let prog = compile(&rules(r#"[{"allow":false},{"allow":true,"type":"c","major":1,"minor":3,"access":"rw"}]"#));
        let expected = vec![
            Insn::new(LDX_MEM_W, KIND, R1, 0, 0),
            Insn::new(ALU32_AND_K, KIND, 0, 0, 0xffff),
            Insn::new(LDX_MEM_W, ACCESS, R1, 0, 0),
            Insn::new(ALU32_RSH_K, ACCESS, 0, 0, 16),
            Insn::new(LDX_MEM_W, MAJOR, R1, 4, 0),
            Insn::new(LDX_MEM_W, MINOR, R1, 8, 0),
            // character device 1:3, read and write only
            Insn::new(JMP32_JNE_K, KIND, 0, 7, 2),
            Insn::new(ALU32_MOV_X, R1, ACCESS, 0, 0),
            Insn::new(ALU32_AND_K, R1, 0, 0, 1),
            Insn::new(JMP32_JNE_K, R1, 0, 4, 0),
            Insn::new(JMP32_JNE_K, MAJOR, 0, 3, 1),
            Insn::new(JMP32_JNE_K, MINOR, 0, 2, 3),
            Insn::new(ALU64_MOV_K, R0, 0, 0, 1),
            Insn::new(EXIT, 0, 0, 0, 0),
            // default: deny
            Insn::new(ALU64_MOV_K, R0, 0, 0, 0),
            Insn::new(EXIT, 0, 0, 0, 0),
        ];
        assert_eq!(prog, expected);
        assert_eq!(run(&prog, Kind::Char, 1, 3, READ | WRITE), 1);
        assert_eq!(run(&prog, Kind::Char, 1, 3, MKNOD), 0);
        assert_eq!(run(&prog, Kind::Block, 254, 0, MKNOD), 0);
    }

    #[test]
    fn the_runtime_default_list_denies_the_disk() {
        let prog = compile(&rules(
            r#"[{"allow":false,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","major":1,"minor":5,"access":"rwm"},
                {"allow":true,"type":"c","major":5,"minor":0,"access":"rwm"},
                {"allow":true,"type":"c","major":136,"access":"rwm"}]"#,
        ));
        for access in [MKNOD, READ, WRITE, READ | WRITE] {
            assert_eq!(run(&prog, Kind::Block, 254, 0, access), 0);
            assert_eq!(run(&prog, Kind::Char, 1, 3, access), 1);
            assert_eq!(run(&prog, Kind::Char, 136, 9, access), 1);
            assert_eq!(run(&prog, Kind::Char, 1, 1, access), 0); // /dev/mem
        }
    }

    /// A small deterministic generator (xorshift64*), enough to draw rule lists.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }
    }

    /// Property: for random rule lists over a few devices, the program decides every
    /// access exactly as the reduced rules (the v1 controller's semantics) do.
    #[test]
    fn program_agrees_with_the_rules_on_random_lists() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let types = ["a", "b", "c"];
        for _ in 0..3000 {
            let count = rng.below(8) as usize;
            let list: Vec<serde_json::Value> = (0..count)
                .map(|_| {
                    let mut rule = serde_json::json!({ "allow": rng.below(2) == 0 });
                    // Mostly b/c rules: an "a" rule wipes what came before.
                    let typ = if rng.below(5) == 0 { types[0] } else { types[1 + rng.below(2) as usize] };
                    rule["type"] = typ.into();
                    if rng.below(3) > 0 {
                        rule["major"] = (rng.below(3) as i64).into();
                    }
                    if rng.below(3) > 0 {
                        rule["minor"] = (rng.below(3) as i64).into();
                    }
                    let letters: String = [('r', READ), ('w', WRITE), ('m', MKNOD)]
                        .iter()
                        .filter(|_| rng.below(2) == 0)
                        .map(|(c, _)| *c)
                        .collect();
                    rule["access"] = letters.into();
                    rule
                })
                .collect();
            let reduced = rules(&serde_json::to_string(&list).unwrap());
            let prog = compile(&reduced);
            for kind in [Kind::Block, Kind::Char] {
                for major in 0..4 {
                    for minor in 0..4 {
                        for access in 1..=ALL {
                            let want = u64::from(reduced.allows(kind, major, minor, access));
                            let got = run(&prog, kind, major, minor, access);
                            assert_eq!(got, want, "{list:?}: {kind:?} {major}:{minor} access {access}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn big_numbers_compare_as_u32() {
        let prog =
            compile(&rules(r#"[{"allow":false},{"allow":true,"type":"c","major":4294967295,"minor":2147483648}]"#));
        assert_eq!(run(&prog, Kind::Char, u32::MAX, 1 << 31, READ), 1);
        assert_eq!(run(&prog, Kind::Char, u32::MAX, 0, READ), 0);
    }
}
