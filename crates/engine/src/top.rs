//! `top CONTAINER [ps OPTIONS]` as Docker does it: the host's `ps` with the user's options
//! (`-ef` by default) and `-q` with the container's pids, its output cut down to the rows
//! whose PID is the container's (the pids come from the OCI runtime: the cgroup's).
//!
//! The options go to `ps` as arguments, never through a shell. `ps` only reads; the one
//! thing refused (as Docker refuses it) is naming another column `PID`, which would make
//! the filter keep rows of processes that are not the container's.

use std::process::{Command, Stdio};

use crate::record::{Record, Status};
use crate::{Engine, EngineError};

/// The container's processes as `ps` shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Top {
    /// The column titles.
    pub titles: Vec<String>,
    /// One row per process (thread rows too with ps's `m`), as many fields as titles: the
    /// last field holds the rest of the line.
    pub processes: Vec<Vec<String>>,
}

/// Refuses `KEY=PID...` for any key but `pid` (Docker's `validatePSArgs`).
pub fn check_ps_args(args: &[String]) -> Result<(), EngineError> {
    for (i, arg) in args.iter().enumerate() {
        for (at, _) in arg.match_indices('=') {
            let key = &arg[..at].rsplit(',').next().unwrap_or_default();
            let key = key.rsplit_once(['-', ' ']).map_or(*key, |(_, k)| k);
            let mut value = &arg[at + 1..];
            if value.is_empty() {
                value = args.get(i + 1).map_or("", String::as_str);
            }
            if value.starts_with("PID") && key != "pid" {
                return Err(EngineError::Invalid(format!("specifying \"{key}={value}\" is not allowed")));
            }
        }
    }
    Ok(())
}

/// Cuts `ps` output down to the rows of `pids` (and the thread rows, PID `-`, under them).
pub fn filter_ps_output(output: &str, pids: &[i32]) -> Result<Top, EngineError> {
    let mut lines = output.lines();
    let titles: Vec<String> = lines.next().unwrap_or_default().split_ascii_whitespace().map(str::to_owned).collect();
    let Some(pid_index) = titles.iter().position(|t| t == "PID") else {
        return Err(EngineError::Invalid("Couldn't find PID field in ps output".into()));
    };
    let mut processes = Vec::new();
    let mut in_container = false;
    for line in lines {
        let fields: Vec<&str> = line.split_ascii_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let keep = match fields[pid_index] {
            "-" => in_container,
            pid => {
                let pid: i32 =
                    pid.parse().map_err(|_| EngineError::Invalid(format!("Unexpected pid '{pid}' in ps output")))?;
                in_container = pids.contains(&pid);
                in_container
            }
        };
        if keep {
            let mut row: Vec<String> = fields[..titles.len() - 1].iter().map(|f| f.to_string()).collect();
            row.push(fields[titles.len() - 1..].join(" "));
            processes.push(row);
        }
    }
    Ok(Top { titles, processes })
}

impl Engine {
    /// The processes of a running container, listed by the host's `ps` with `ps_args`
    /// (`-ef` if empty).
    pub fn top(&self, record: &Record, ps_args: &[String]) -> Result<Top, EngineError> {
        if !matches!(record.state.status, Status::Running | Status::Paused) {
            return Err(EngineError::State(format!("container {} is not running", record.name)));
        }
        let args: Vec<String> = if ps_args.is_empty() { vec!["-ef".into()] } else { ps_args.to_vec() };
        check_ps_args(&args)?;
        let listed = self.runtime_for(record)?.run(&["ps", "--format", "json", "--", &record.id])?;
        let pids: Vec<i32> =
            serde_json::from_str(listed.trim()).map_err(|e| EngineError::Runtime(format!("ps --format json: {e}")))?;
        let quick = format!("-q{}", pids.iter().map(i32::to_string).collect::<Vec<_>>().join(","));
        let ps = |extra: Option<&str>| {
            Command::new("ps")
                .args(&args)
                .args(extra)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| EngineError::Invalid(format!("ps: {e} (the host's ps, from procps, is needed)")))
        };
        // Some options (`f`) do not go with `-q`: then all processes, filtered here.
        let mut out = ps(Some(&quick))?;
        if !out.status.success() {
            out = ps(None)?;
        }
        if !out.status.success() {
            let message = String::from_utf8_lossy(&out.stderr);
            return Err(EngineError::Invalid(format!("ps: {}", message.lines().next().unwrap_or("failed"))));
        }
        filter_ps_output(&String::from_utf8_lossy(&out.stdout), &pids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pid_cannot_be_renamed() {
        assert!(check_ps_args(&args(&["-o", "pid,user,args"])).is_ok());
        assert!(check_ps_args(&args(&["-o", "pid=PID,user"])).is_ok());
        assert!(check_ps_args(&args(&["aux"])).is_ok());
        for bad in [&["-o", "user=PID"][..], &["-o", "pid,user=PIDX"], &["-o", "user=", "PID"], &["-ouser=PID"]] {
            let err = check_ps_args(&args(bad)).unwrap_err().to_string();
            assert!(err.contains("is not allowed"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn only_the_containers_rows() {
        let out = "  PID USER     COMMAND\n    1 root     init\n   42 root     sh -c sleep 1\n    - -        -\n   43 root     x\n    - -        -\n";
        let top = filter_ps_output(out, &[42]).unwrap();
        assert_eq!(top.titles, ["PID", "USER", "COMMAND"]);
        assert_eq!(top.processes, [args(&["42", "root", "sh -c sleep 1"]), args(&["-", "-", "-"])]);
        assert!(filter_ps_output("USER COMMAND\nroot x\n", &[1]).is_err());
        assert!(filter_ps_output("PID\nabc\n", &[1]).is_err());
    }
}
