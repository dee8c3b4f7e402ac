//! Containers and exec through the API: the docker CLI's run, ps, logs, exec, attach,
//! stop, rm, inspect, cp.

use lindocker_testkit::{Api, Engine};

const BIN: &str = env!("CARGO_BIN_EXE_lindocker");

#[test]
fn docker_version_talks_to_the_service() {
    let engine = Engine::new(BIN, "api_version");
    let api = Api::start(&engine);
    let out = api.docker_ok(&["version", "--format", "{{.Server.APIVersion}} {{.Server.Os}} {{.Client.APIVersion}}"]);
    assert_eq!(out.trim(), "1.50 linux 1.50");
}
