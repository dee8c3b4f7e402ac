//! Issue 14: `network connect` checks, acts and records under the container's lock.
//! Two `connect`s of one stopped container to one network at the same moment: one joins,
//! the other is told it is already connected or (as dockerd does for a stopped
//! container) updates the same attachment. Either way the record holds the network once
//! (before, both could pass the check and both land in the record, and the container
//! then could not start).

use std::process::Stdio;

use lindocker_testkit::Engine;

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

#[test]
fn concurrent_connects_to_one_network_join_once() {
    let engine = Engine::with_busybox(BIN, "connect-race");
    engine.ok(&["network", "create", "--subnet", "10.91.0.0/24", "racenet"]);
    engine.ok(&["create", "--name", "racer", "localhost/busybox", "sleep", "1000"]);
    for attempt in 0..8 {
        let children: Vec<_> = (0..2)
            .map(|_| {
                let mut cmd = engine.cmd();
                cmd.args(["network", "connect", "racenet", "racer"]).stdout(Stdio::null()).stderr(Stdio::piped());
                cmd.spawn().unwrap()
            })
            .collect();
        let outcomes: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        for refused in outcomes.iter().filter(|o| !o.status.success()) {
            let err = String::from_utf8_lossy(&refused.stderr);
            assert!(err.contains("already connected"), "attempt {attempt}: {err}");
        }
        // Once in the record: the container starts, with one address on the network.
        engine.ok(&["start", "racer"]);
        let addresses = engine.ok(&["exec", "racer", "sh", "-c", "ip -o -4 addr | grep -c ' 10\\.91\\.'"]);
        assert_eq!(addresses.trim(), "1", "attempt {attempt}");
        engine.ok(&["kill", "racer"]);
        engine.ok(&["wait", "racer"]);
        engine.ok(&["network", "disconnect", "racenet", "racer"]);
        // Once off the network, a second disconnect is refused (one attachment only).
        let err = engine.fails(&["network", "disconnect", "racenet", "racer"], 1);
        assert!(err.contains("is not connected"), "attempt {attempt}: {err}");
    }
    engine.ok(&["rm", "-f", "racer"]);
    engine.ok(&["network", "rm", "racenet"]);
}
