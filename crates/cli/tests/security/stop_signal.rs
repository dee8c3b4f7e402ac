//! An image's `StopSignal` (and `--stop-signal`) is passed to the OCI runtime's `kill`.
//! A value such as `--root=/some/dir` must not become an option of the runtime (which
//! then creates that directory, or worse): it is refused unless it is a signal, and
//! every runtime command line puts `--` before its positional arguments.

use std::fs;

use lindocker_testkit::image;
use lindocker_testkit::{Engine, temp_dir};
use serde_json::json;

use super::volume_copy_up::host_arch;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

#[test]
fn a_stop_signal_that_is_an_option_never_reaches_the_runtime() {
    let engine = Engine::new(BIN, "stopsig");
    let host = temp_dir("stopsig-host");
    let made = host.join("made-by-the-runtime");
    // Busybox with `STOPSIGNAL --root=<made>`, loaded as a downloaded image would come.
    let tar = image::busybox_layer(&engine.root);
    let layout = engine.root.join("layout");
    let config = json!({ "Cmd": ["sleep", "1000"], "StopSignal": format!("--root={}", made.display()) });
    let rootfs = engine.root.join("rootfs.tar");
    fs::write(&rootfs, &tar).unwrap();
    let desc = image::image(&layout, &[(tar.clone(), tar)], config, host_arch());
    image::finish_layout(&layout, "localhost/stopsig:1", vec![desc]);
    let archive = engine.root.join("image.tar");
    let mut b = tar::Builder::new(fs::File::create(&archive).unwrap());
    b.append_dir_all(".", &layout).unwrap();
    b.into_inner().unwrap();
    fs::remove_dir_all(&layout).unwrap();
    let load = engine.run(&["load", "-i", archive.to_str().unwrap()]);
    let loaded = load.status.success();
    if !loaded {
        // Refused where it enters (the config's StopSignal is no signal), saying why.
        let err = String::from_utf8_lossy(&load.stderr);
        assert!(err.contains("StopSignal"), "{err}");
    } else {
        let out = engine.run(&["run", "-d", "--network", "none", "--name", "cc", "localhost/stopsig:1"]);
        if out.status.success() {
            let _ = engine.run(&["stop", "-t", "1", "cc"]);
            let _ = engine.run(&["rm", "-f", "cc"]);
        } else {
            assert_eq!(out.status.code(), Some(125), "{}", String::from_utf8_lossy(&out.stderr));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.to_lowercase().contains("signal"), "{err}");
        }
    }
    assert!(!made.exists(), "the runtime took the image's StopSignal as an option");

    // The admin's --stop-signal and kill -s: refused as well.
    let evil = format!("--root={}", made.display());
    if !loaded {
        engine.ok(&["import", "-c", r#"CMD ["sleep", "1000"]"#, rootfs.to_str().unwrap(), "localhost/stopsig:1"]);
    }
    let err = engine.fails(&["create", "--network", "none", "--stop-signal", &evil, "localhost/stopsig:1"], 125);
    assert!(err.to_lowercase().contains("signal"), "{err}");
    engine.ok(&["run", "-d", "--network", "none", "--stop-signal", "USR1", "--name", "kk", "localhost/stopsig:1"]);
    let out = engine.run(&["kill", "-s", &evil, "kk"]);
    assert!(!out.status.success());
    // A good stop signal still works (USR1 kills sleep).
    engine.ok(&["stop", "-t", "5", "kk"]);
    engine.ok(&["rm", "-f", "kk"]);
    assert!(!made.exists(), "the runtime took a signal as an option");
    fs::remove_dir_all(&host).unwrap();
}

/// Other values of an image's config reach the admin's terminal through `ps`: a `Cmd`
/// with escape sequences (retitle the window, clear the screen, worse on some
/// terminals) is shown escaped.
#[test]
fn an_image_command_with_terminal_escapes_is_shown_escaped() {
    let engine = Engine::new(BIN, "ps-escapes");
    let config = json!({ "Cmd": ["/bin/true", "\u{1b}]0;pwned\u{7}\u{1b}[2J\r\n", "\u{9b}31m"] });
    assert!(super::volume_copy_up::load_image(
        &engine,
        &[lindocker_testkit::image::Entry::Dir("etc/")],
        config,
        "localhost/esc:1"
    ));
    engine.ok(&["create", "--network", "none", "--name", "esc", "localhost/esc:1"]);
    for args in [&["ps", "-a", "--no-trunc"][..], &["ps", "-a"], &["ps", "-a", "--format", "json"]] {
        let out = engine.ok(args);
        assert!(out.contains("/bin/true"), "{out}");
        let control: Vec<char> = out.chars().filter(|c| c.is_control() && *c != '\n').collect();
        assert!(control.is_empty(), "{args:?} prints control characters {control:?}: {out:?}");
        assert_eq!(out.lines().count(), if args.contains(&"json") { 1 } else { 2 }, "{out:?}");
    }
}
