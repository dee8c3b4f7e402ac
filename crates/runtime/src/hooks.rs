//! OCI hooks: programs run at fixed points of the lifecycle with the state on stdin.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::Hook;

use crate::{Error, Result};

/// Runs `hooks` in order; the first failure stops the list and names the hook. A hook
/// without `env` gets an empty environment.
pub fn run(kind: &'static str, hooks: Option<&Vec<Hook>>, state: &serde_json::Value) -> Result<()> {
    run_with_env(kind, hooks, state, &[])
}

/// [`run`], where a hook without `env` gets `default_env`: the hooks run by the
/// container's init get its process's environment, as runc's do.
pub fn run_with_env(
    kind: &'static str,
    hooks: Option<&Vec<Hook>>,
    state: &serde_json::Value,
    default_env: &[String],
) -> Result<()> {
    let input = serde_json::to_vec(state).expect("state serializes");
    for (index, hook) in hooks.into_iter().flatten().enumerate() {
        run_one(kind, index, hook, &input, default_env)?;
    }
    Ok(())
}

/// Runs every hook of `hooks`, a failure not stopping the rest: the poststart and
/// poststop hooks, whose failures the runtime spec makes warnings. Returns the failures.
pub fn run_all(kind: &'static str, hooks: Option<&Vec<Hook>>, state: &serde_json::Value) -> Vec<Error> {
    let input = serde_json::to_vec(state).expect("state serializes");
    hooks.into_iter().flatten().enumerate().filter_map(|(i, hook)| run_one(kind, i, hook, &input, &[]).err()).collect()
}

fn run_one(kind: &'static str, index: usize, hook: &Hook, input: &[u8], default_env: &[String]) -> Result<()> {
    let fail = |message: String| Error::Hook { kind, index, path: hook.path().clone(), message };
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some((arg0, rest)) = args.split_first() {
        std::os::unix::process::CommandExt::arg0(&mut cmd, arg0);
        cmd.args(rest);
    }
    cmd.env_clear();
    for var in hook.env().as_deref().unwrap_or(default_env) {
        if let Some((k, v)) = var.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot start: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook may exit without reading its input; that is not an error.
        let _ = stdin.write_all(input);
    }
    let deadline = hook.timeout().filter(|t| *t > 0).map(|t| Instant::now() + Duration::from_secs(t as u64));
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| fail(e.to_string()))? {
            break status;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(fail(format!("timed out after {}s", hook.timeout().unwrap_or(0))));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    if !status.success() {
        return Err(fail(format!("failed: {status}")));
    }
    Ok(())
}
