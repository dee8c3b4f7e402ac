//! The kernel's keyrings are not namespaced: a container's root is the host's root to
//! them, so it could find, read and unlink the keys the host's root keeps in its user
//! keyring. Docker's default seccomp profile refuses `keyctl`, `add_key` and
//! `request_key`; a default `lindocker run` container must get EPERM (or ENOSYS) and the
//! host's key must survive.

use std::ffi::CString;

use lindocker_sys::keys;
use lindocker_testkit::Engine;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

/// A key in the host root's user keyring, unlinked when dropped.
struct HostKey {
    serial: i32,
    name: CString,
}

impl HostKey {
    fn add(name: &str, payload: &[u8]) -> HostKey {
        let name = CString::new(name).unwrap();
        let serial = keys::add_user_key(&name, payload, keys::USER_KEYRING).expect("add a key to root's user keyring");
        HostKey { serial, name }
    }
}

impl Drop for HostKey {
    fn drop(&mut self) {
        let _ = keys::unlink_key(self.serial, keys::USER_KEYRING);
    }
}

#[test]
fn a_default_container_cannot_reach_the_host_roots_keyring() {
    let key = HostKey::add(&format!("lindocker-test-{}-secret", std::process::id()), b"host secret");
    let engine = Engine::with_busybox(BIN, "keyring");
    let desc = key.name.to_str().unwrap();
    let out = engine.ok(&["run", "--rm", "localhost/busybox", "checker", "--keyctl", desc]);
    let r: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("checker output ({e}): {out}"));
    let w = &r["writes"];
    // The first step already fails: no keyctl at all.
    for step in ["keyctl-id", "keyctl-search"] {
        let errno = w[step]["errno"].as_i64();
        assert!(errno == Some(libc::EPERM as i64) || errno == Some(libc::ENOSYS as i64), "{step} was not refused: {w}");
    }
    assert!(w.get("keyctl-read").is_none() && w.get("keyctl-unlink").is_none(), "the key was found: {w}");
    // The host's key is still there, with its payload.
    let found = keys::search_user_key(keys::USER_KEYRING, &key.name).expect("the host's key survived");
    assert_eq!(found, key.serial);
    assert_eq!(keys::read_key(found).unwrap(), b"host secret");
    assert_eq!(engine.leftovers(), Vec::<String>::new());
}
