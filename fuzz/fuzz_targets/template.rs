//! `--format` / `inspect -f` templates: any template over any JSON value parses and runs
//! without panicking or hanging, and text without `{{` comes out as it went in. The input
//! is `TEMPLATE\0JSON`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[path = "../../crates/cli/src/bin/lindocker/template/mod.rs"]
#[allow(dead_code, unused_imports)]
mod template;

fuzz_target!(|data: &[u8]| {
    let (t, v) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b""[..]),
    };
    let Ok(t) = std::str::from_utf8(t) else { return };
    let value: Value = serde_json::from_slice(v)
        .unwrap_or_else(|_| json!({"State": {"Status": "running", "Pid": 1}, "Name": "/x", "Config": {"Env": []}}));
    let out = template::render_template(t, &value);
    if !t.contains("{{") {
        assert_eq!(out.as_deref(), Ok(t));
    }
});
