//! OCI `linux.resources.devices` rules reduced to what they mean, the way the cgroup v1
//! devices controller reduces them: a default (allow or deny every device) and a list of
//! exceptions. cgroup v2 has no such controller; the reduced form is what its eBPF
//! program ([`crate::devices_bpf`]) is built from, so a spec means the same on both.
//!
//! The reduction follows the kernel's `devcgroup_update_access` (security/device_cgroup.c),
//! as runc's device emulator does:
//! - a rule of type `a` (or no type) resets everything: "deny all" (or "allow all")
//!   becomes the default and the exceptions are dropped; its numbers and access are
//!   ignored, as the kernel ignores them;
//! - a rule that agrees with the default removes its access from the exception with the
//!   very same type and numbers (no other: a rule never punches a hole in a wildcard);
//! - a rule that disagrees adds an exception, merged into the one with the same type and
//!   numbers if there is one.
//!
//! Then an access is checked like the kernel checks it: with default deny, one exception
//! must grant all of the requested access; with default allow, no exception may name any
//! of it.

use oci_spec::runtime::{LinuxDeviceCgroup, LinuxDeviceType};

use crate::{Error, Result};

/// Creating the device node (`mknod`).
pub const MKNOD: u8 = 1;
/// Opening it for reading.
pub const READ: u8 = 2;
/// Opening it for writing.
pub const WRITE: u8 = 4;
/// Every access.
pub const ALL: u8 = MKNOD | READ | WRITE;

/// The kind of device, with the kernel's numbers for it (`BPF_DEVCG_DEV_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A block device.
    Block = 1,
    /// A character device.
    Char = 2,
}

/// Devices of one kind whose numbers match, and the access the rule is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exception {
    /// Block or character.
    pub kind: Kind,
    /// The major number, `None` for any.
    pub major: Option<u32>,
    /// The minor number, `None` for any.
    pub minor: Option<u32>,
    /// `MKNOD | READ | WRITE` bits, never 0.
    pub access: u8,
}

impl Exception {
    fn covers(&self, kind: Kind, major: u32, minor: u32) -> bool {
        self.kind == kind && self.major.is_none_or(|m| m == major) && self.minor.is_none_or(|m| m == minor)
    }

    fn same_devices(&self, other: &Exception) -> bool {
        self.kind == other.kind && self.major == other.major && self.minor == other.minor
    }
}

/// A device rule list reduced to its meaning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRules {
    /// Whether a device that no exception names is allowed.
    pub default_allow: bool,
    /// Devices treated the other way (denied when the default allows, and the reverse).
    pub exceptions: Vec<Exception>,
    /// Whether the list starts over (has a type `a` rule), so that it means the same
    /// whatever rules the cgroup had before. A list without one changes the rules the
    /// cgroup has (v1); v2 then keeps the old program, so that such an update can only
    /// take access away.
    pub complete: bool,
}

/// A rule as given, checked: `None` kind is type `a`.
struct Rule {
    allow: bool,
    kind: Option<Kind>,
    major: Option<u32>,
    minor: Option<u32>,
    access: u8,
}

impl DeviceRules {
    /// Reduces OCI rules, applied in order to a cgroup that allows every device (a new
    /// cgroup under a parent that does). A rule with a type, number or access letter the
    /// kernel does not know is refused.
    pub fn from_oci(rules: &[LinuxDeviceCgroup]) -> Result<DeviceRules> {
        let mut out = DeviceRules { default_allow: true, exceptions: Vec::new(), complete: false };
        for (i, rule) in rules.iter().enumerate() {
            out.apply(&check(i, rule)?);
        }
        Ok(out)
    }

    fn apply(&mut self, rule: &Rule) {
        let Some(kind) = rule.kind else {
            self.default_allow = rule.allow;
            self.exceptions.clear();
            self.complete = true;
            return;
        };
        let ex = Exception { kind, major: rule.major, minor: rule.minor, access: rule.access };
        if rule.allow == self.default_allow {
            for e in self.exceptions.iter_mut().filter(|e| e.same_devices(&ex)) {
                e.access &= !ex.access;
            }
            self.exceptions.retain(|e| e.access != 0);
        } else if let Some(e) = self.exceptions.iter_mut().find(|e| e.same_devices(&ex)) {
            e.access |= ex.access;
        } else {
            self.exceptions.push(ex);
        }
    }

    /// Whether `access` (bits) to device `major:minor` of `kind` is allowed.
    pub fn allows(&self, kind: Kind, major: u32, minor: u32, access: u8) -> bool {
        let mut named = self.exceptions.iter().filter(|e| e.covers(kind, major, minor));
        if self.default_allow { !named.any(|e| e.access & access != 0) } else { named.any(|e| access & !e.access == 0) }
    }
}

fn check(i: usize, rule: &LinuxDeviceCgroup) -> Result<Rule> {
    let bad = |what: &str, reason: String| Error::Unsupported { field: format!("devices[{i}].{what}"), reason };
    let kind = match rule.typ() {
        None | Some(LinuxDeviceType::A) => None,
        Some(LinuxDeviceType::B) => Some(Kind::Block),
        Some(LinuxDeviceType::C) => Some(Kind::Char),
        Some(other) => {
            return Err(bad("type", format!("{:?} is not a device cgroup type (a, b or c)", other.as_str())));
        }
    };
    let number = |what: &str, n: Option<i64>| -> Result<Option<u32>> {
        match n {
            None => Ok(None),
            Some(n) if n < 0 => Ok(None), // -1: any, as the v1 file's `*`
            Some(n) => u32::try_from(n).map(Some).map_err(|_| bad(what, format!("{n} is out of range"))),
        }
    };
    let access = match rule.access().as_deref() {
        None | Some("") => ALL,
        Some(letters) => {
            let mut bits = 0;
            for c in letters.chars() {
                bits |= match c {
                    'm' => MKNOD,
                    'r' => READ,
                    'w' => WRITE,
                    _ => return Err(bad("access", format!("{letters:?}: only the letters r, w and m are allowed"))),
                };
            }
            bits
        }
    };
    Ok(Rule {
        allow: rule.allow(),
        kind,
        major: number("major", rule.major())?,
        minor: number("minor", rule.minor())?,
        access,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn rules(json: &str) -> Vec<LinuxDeviceCgroup> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn deny_all_then_allow_some() {
        let r = DeviceRules::from_oci(&rules(
            r#"[{"allow":false,"access":"rwm"},{"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"},
                {"allow":true,"type":"c","major":136,"access":"rw"}]"#,
        ))
        .unwrap();
        assert!(!r.default_allow);
        assert_eq!(r.exceptions.len(), 2);
        assert!(r.allows(Kind::Char, 1, 3, READ | WRITE));
        assert!(r.allows(Kind::Char, 1, 3, MKNOD));
        assert!(!r.allows(Kind::Block, 1, 3, READ));
        assert!(r.allows(Kind::Char, 136, 7, READ | WRITE));
        assert!(!r.allows(Kind::Char, 136, 7, MKNOD));
        assert!(!r.allows(Kind::Block, 254, 0, READ));
        assert!(!r.allows(Kind::Block, 254, 0, MKNOD));
    }

    #[test]
    fn no_rules_allow_everything() {
        let r = DeviceRules::from_oci(&[]).unwrap();
        assert!(r.allows(Kind::Block, 8, 0, ALL));
    }

    #[test]
    fn a_rule_resets_whatever_its_numbers() {
        let r = DeviceRules::from_oci(&rules(
            r#"[{"allow":false},{"allow":true,"type":"b","major":8,"minor":0},{"allow":false,"type":"a","major":8,"access":"r"}]"#,
        ))
        .unwrap();
        assert_eq!(r, DeviceRules { default_allow: false, exceptions: vec![], complete: true });
        assert!(!DeviceRules::from_oci(&rules(r#"[{"allow":true,"type":"b","major":8}]"#)).unwrap().complete);
    }

    #[test]
    fn same_device_rules_merge_and_remove_access() {
        // Default deny: two allows of the same device merge; a deny takes back a letter.
        let r = DeviceRules::from_oci(&rules(
            r#"[{"allow":false},{"allow":true,"type":"b","major":8,"minor":0,"access":"r"},
                {"allow":true,"type":"b","major":8,"minor":0,"access":"w"},
                {"allow":false,"type":"b","major":8,"minor":0,"access":"r"}]"#,
        ))
        .unwrap();
        assert!(r.allows(Kind::Block, 8, 0, WRITE));
        assert!(!r.allows(Kind::Block, 8, 0, READ));
        // ...but never punches into a wildcard: denying 8:1 leaves 8:* allowed.
        let r = DeviceRules::from_oci(&rules(
            r#"[{"allow":false},{"allow":true,"type":"b","major":8,"access":"rwm"},
                {"allow":false,"type":"b","major":8,"minor":1,"access":"rwm"}]"#,
        ))
        .unwrap();
        assert!(r.allows(Kind::Block, 8, 1, READ));
    }

    #[test]
    fn default_allow_denies_any_named_letter() {
        let r = DeviceRules::from_oci(&rules(r#"[{"allow":true},{"allow":false,"type":"b","major":8,"access":"w"}]"#))
            .unwrap();
        assert!(r.allows(Kind::Block, 8, 0, READ));
        assert!(!r.allows(Kind::Block, 8, 0, READ | WRITE));
        assert!(r.allows(Kind::Char, 8, 0, WRITE));
    }

    #[test]
    fn bad_rules_are_refused() {
        for bad in [
            r#"[{"allow":true,"type":"c","major":1,"minor":3,"access":"rwx"}]"#,
            r#"[{"allow":true,"type":"p","major":1,"minor":3}]"#,
            r#"[{"allow":true,"type":"c","major":4294967296,"minor":3}]"#,
        ] {
            let err = DeviceRules::from_oci(&rules(bad)).unwrap_err().to_string();
            assert!(err.contains("devices[0]"), "{err}");
        }
    }
}
