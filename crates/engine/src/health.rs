//! Health checks, daemonless: the shim of a running container runs its check on a timer
//! ([`Monitor`]), as an exec into the container, and writes the result to
//! `containers/<id>/health.json` (atomically) for `ps` and `inspect` to read. Docker's
//! rules throughout (moby's `daemon/health.go`): the schedule, the start period, the
//! failing streak, the last five results, output cut at 4096 bytes, a check past its
//! timeout killed and failed with "Health check exceeded timeout (1s)".
//!
//! The check itself runs in a fork of the shim (as `forked` starts containers), so that
//! what it costs (the runtime's exec, reading the check's output, its timeout) never adds
//! to the shim's memory or holds up its relay: the fork execs the command into the
//! container, reads at most 4096 bytes of its output, kills it at the timeout, and hands
//! back one small JSON result through a pipe, which the shim polls beside the container's
//! output.

use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::time::{Duration, Instant};

use lindocker_image::health::{Healthcheck, go_duration};
use rustix::process::{Pid, PidfdFlags, Signal, WaitOptions};
use serde::{Deserialize, Serialize};

use crate::paths::ContainerPaths;
use crate::record::{Record, Records, Status};
use crate::runtime::OciRuntime;

/// The file, in the container's directory, holding its health.
pub const FILE: &str = "health.json";
/// Longest output kept of one check (Docker's `maxOutputLen`); "..." marks a cut.
pub const MAX_OUTPUT: usize = 4096;
/// Results kept (Docker's `maxLogEntries`).
pub const MAX_LOG: usize = 5;
const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_START_INTERVAL: Duration = Duration::from_secs(5);
const DEFAULT_RETRIES: u32 = 3;
/// How long starting a check's process may take before it is given up (Docker's 30 s).
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long a check that a signal ended waits before it counts: the container's end
/// kills its processes, the check's first, and that is no result (Docker drops a result
/// that comes after the container's exit).
const SIGNALLED_HOLD: Duration = Duration::from_millis(500);
/// Most of a check's answer the shim reads (the output, JSON-escaped, fits easily).
const MAX_ANSWER: usize = 64 * 1024;

/// `starting`, `healthy` or `unhealthy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// No check has passed yet since the start.
    #[default]
    Starting,
    /// The last check passed.
    Healthy,
    /// `retries` checks in a row failed.
    Unhealthy,
}

impl HealthStatus {
    /// The word Docker uses (`ps --filter health=`, `State.Health.Status`).
    pub fn as_str(self) -> &'static str {
        match self {
            HealthStatus::Starting => "starting",
            HealthStatus::Healthy => "healthy",
            HealthStatus::Unhealthy => "unhealthy",
        }
    }

    /// What `ps` shows in parentheses after `Up 3 minutes`.
    pub fn ps_text(self) -> &'static str {
        match self {
            HealthStatus::Starting => "health: starting",
            other => other.as_str(),
        }
    }
}

/// Docker's `State.Health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// Where the container stands.
    pub status: HealthStatus,
    /// Failed checks in a row (those in the start period not counted).
    pub failing_streak: u32,
    /// The last results, oldest first.
    pub log: Vec<HealthResult>,
}

/// One check's result, as Docker's `HealthcheckResult`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthResult {
    /// When the check started (RFC 3339).
    pub start: String,
    /// When it ended.
    pub end: String,
    /// 0 healthy, anything else failing; -1 when it could not run or timed out.
    pub exit_code: i32,
    /// Its stdout and stderr, at most [`MAX_OUTPUT`] bytes (then "...").
    pub output: String,
}

impl Health {
    /// Takes in a result as Docker's `handleProbeResult` does; `in_start_period`: the
    /// check started within the start period. Returns the new status if it changed
    /// (the moment Docker logs a `health_status: <status>` event).
    pub fn record(&mut self, result: HealthResult, retries: u32, in_start_period: bool) -> Option<HealthStatus> {
        let before = self.status;
        let passed = result.exit_code == 0;
        if self.log.len() >= MAX_LOG {
            self.log.drain(..self.log.len() + 1 - MAX_LOG);
        }
        self.log.push(result);
        if passed {
            self.failing_streak = 0;
            self.status = HealthStatus::Healthy;
        } else if !(self.status == HealthStatus::Starting && in_start_period) {
            self.failing_streak += 1;
            if self.failing_streak >= retries.max(1) {
                self.status = HealthStatus::Unhealthy;
            }
        }
        (self.status != before).then_some(self.status)
    }
}

/// The health recorded for the container at `paths`, if it has any (a check configured
/// and the container started since).
pub fn read(paths: &ContainerPaths) -> Option<Health> {
    let file = std::fs::File::open(paths.health()).ok()?;
    let mut bytes = Vec::new();
    // Ours, but bounded all the same.
    file.take(1 << 20).read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Writes `health` for the container at `paths`: whole or not at all.
fn write(paths: &ContainerPaths, health: &Health) -> io::Result<()> {
    use lindocker_sys::atomic::{AtomicWrite, Durability};
    // Root's alone: a check's output may show what the container holds.
    AtomicWrite::new(Durability::CrashSafe)
        .mode(0o600)
        .write(&paths.health(), &serde_json::to_vec(health).expect("health serializes"))
}

fn duration_or(ns: i64, default: Duration) -> Duration {
    if ns > 0 { Duration::from_nanos(ns as u64) } else { default }
}

/// The health check of one run of a container, driven by its shim.
#[derive(Debug)]
pub struct Monitor {
    id: String,
    paths: ContainerPaths,
    records: Records,
    /// Where a changed status is journaled (`health_status: <status>`).
    events: crate::events::Journal,
    runtime: OciRuntime,
    argv: Vec<String>,
    interval: Duration,
    timeout: Duration,
    start_period: Duration,
    start_interval: Duration,
    retries: u32,
    started: Instant,
    next: Instant,
    health: Health,
    check: Option<Check>,
    /// A result held back until [`SIGNALLED_HOLD`] has passed (start, started, code,
    /// output, until when).
    held: Option<(String, Instant, i32, String, Instant)>,
}

/// A check under way: the fork running it, and what it has answered so far.
#[derive(Debug)]
struct Check {
    pidfd: OwnedFd,
    answer: OwnedFd,
    got: Vec<u8>,
    start: String,
    started: Instant,
    give_up: Instant,
}

impl Monitor {
    /// The monitor for `record`, which has just started, if it has a check to run; the
    /// container is `starting` from now (its earlier results kept, as Docker does).
    pub fn new(
        records: &Records,
        events: &crate::events::Journal,
        runtime: OciRuntime,
        record: &Record,
    ) -> Option<Monitor> {
        let config: &Healthcheck = record.config.healthcheck.as_ref()?;
        let argv = config.probe()?;
        let paths = records.paths(&record.id);
        let mut health = read(&paths).unwrap_or_default();
        health.status = HealthStatus::Starting;
        health.failing_streak = 0;
        let _ = write(&paths, &health);
        let now = Instant::now();
        let mut monitor = Monitor {
            id: record.id.clone(),
            paths,
            records: records.clone(),
            events: events.clone(),
            runtime,
            argv,
            interval: duration_or(config.interval, DEFAULT_INTERVAL),
            timeout: duration_or(config.timeout, DEFAULT_TIMEOUT),
            start_period: duration_or(config.start_period, Duration::ZERO),
            start_interval: duration_or(config.start_interval, DEFAULT_START_INTERVAL),
            retries: if config.retries > 0 { config.retries.min(i64::from(u32::MAX)) as u32 } else { DEFAULT_RETRIES },
            started: now,
            next: now,
            health,
            check: None,
            held: None,
        };
        monitor.next = now + monitor.wait();
        Some(monitor)
    }

    /// Docker's wait before the next check: the interval; in the start period, the
    /// start interval while still `starting`, and never past the period's end.
    fn wait(&self) -> Duration {
        let elapsed = self.started.elapsed();
        if elapsed >= self.start_period {
            return self.interval;
        }
        let remaining = self.start_period - elapsed;
        if remaining < self.interval {
            return remaining;
        }
        if self.health.status == HealthStatus::Starting { self.start_interval } else { self.interval }
    }

    /// The descriptor to poll for reading while a check runs.
    pub fn fd(&self) -> Option<&OwnedFd> {
        self.check.as_ref().map(|c| &c.answer)
    }

    /// How long until the monitor has something to do.
    pub fn due_in(&self) -> Duration {
        let at = match (&self.check, &self.held) {
            (Some(c), _) => c.give_up,
            (None, Some(held)) => held.4,
            (None, None) => self.next,
        };
        at.saturating_duration_since(Instant::now())
    }

    /// Does what is due: starts a check, takes in its answer (`readable`: its
    /// descriptor polled readable), or gives up on one that never got going.
    pub fn service(&mut self, readable: bool) {
        let now = Instant::now();
        if let Some((start, started, code, output, until)) = self.held.take() {
            if now < until {
                self.held = Some((start, started, code, output, until));
            } else {
                self.record(start, started, code, output);
            }
            return;
        }
        let Some(check) = self.check.as_mut() else {
            if now >= self.next {
                self.start_check();
            }
            return;
        };
        if readable {
            let mut buf = [0u8; 4096];
            loop {
                match rustix::io::read(&check.answer, &mut buf) {
                    Ok(0) => {
                        let answer = std::mem::take(&mut check.got);
                        self.finish(answer_result(&answer));
                        return;
                    }
                    Ok(n) => {
                        let room = MAX_ANSWER.saturating_sub(check.got.len());
                        check.got.extend_from_slice(&buf[..n.min(room)]);
                    }
                    Err(rustix::io::Errno::INTR) => {}
                    Err(_) => break,
                }
            }
        }
        if now >= check.give_up {
            if self.paused() {
                // Frozen with the container: Docker drops a check the pause interrupts.
                if let Some(check) = self.check.take() {
                    end(&check);
                }
                self.next = Instant::now() + self.interval;
                return;
            }
            let message = format!("timed out starting health check for container {}", self.id);
            self.finish(Err(message));
        }
    }

    fn paused(&self) -> bool {
        self.records.read(&self.id).is_ok_and(|r| r.state.status == Status::Paused)
    }

    /// Starts a check in a fork, unless the container is paused (Docker checks only a
    /// running container).
    fn start_check(&mut self) {
        if self.paused() {
            self.next = Instant::now() + self.interval;
            return;
        }
        let start = crate::now();
        let started = Instant::now();
        let pid_file = self.paths.health_pid();
        match spawn_check(&self.runtime, &self.id, &self.argv, self.timeout, &pid_file) {
            Ok((pid, answer)) => match rustix::process::pidfd_open(pid, PidfdFlags::empty()) {
                Ok(pidfd) => {
                    let _ = set_nonblocking(answer.as_fd());
                    self.check = Some(Check {
                        pidfd,
                        answer,
                        got: Vec::new(),
                        start,
                        started,
                        give_up: started + START_LIMIT + self.timeout,
                    });
                }
                Err(e) => {
                    let _ = rustix::process::kill_process(pid, Signal::KILL);
                    let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
                    self.record(start, started, -1, format!("start the health check: {e}"));
                }
            },
            Err(e) => self.record(start, started, -1, format!("start the health check: {e}")),
        }
    }

    /// Ends the check under way with `result` (exit code and output, or why it failed).
    fn finish(&mut self, result: Result<(i32, String), String>) {
        let Some(check) = self.check.take() else { return };
        // Gone already if it answered; if not, it is given up on.
        end(&check);
        let (code, output) = result.unwrap_or_else(|message| (-1, message));
        if code > 128 {
            self.held = Some((check.start, check.started, code, output, Instant::now() + SIGNALLED_HOLD));
            return;
        }
        self.record(check.start, check.started, code, output);
    }

    /// Takes in one result, writes the health out, and schedules the next check.
    fn record(&mut self, start: String, started: Instant, exit_code: i32, output: String) {
        let result = HealthResult { start, end: crate::now(), exit_code, output };
        let in_start_period = started.saturating_duration_since(self.started) < self.start_period;
        let changed = self.health.record(result, self.retries, in_start_period);
        let _ = write(&self.paths, &self.health);
        // A changed status is journaled as Docker's `health_status: <status>` event,
        // under the name the container has now.
        if let (Some(status), Ok(record)) = (changed, self.records.read(&self.id)) {
            let action = format!("health_status: {}", status.as_str());
            self.events.emit(crate::events::Event::container(&record, &action, &[]));
        }
        self.next = Instant::now() + self.wait();
        // The shim's resident size stays what its relay uses: the program pages this
        // check ran (forking, the JSON) are let go again, as after the start.
        let _ = lindocker_sys::release_startup_text();
    }

    /// Stops the check under way, if any (the container has ended): its fork is killed,
    /// the check's process went with the container. No result is recorded.
    pub fn stop(&mut self) {
        if let Some(check) = self.check.take() {
            end(&check);
        }
        let _ = std::fs::remove_file(self.paths.health_pid());
        let _ = std::fs::remove_file(self.paths.health_log());
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Kills a check's fork (if it still runs) and reaps it, through its pidfd: the relay may
/// have reaped it already, and its pid may since name another process.
fn end(check: &Check) {
    let _ = rustix::process::pidfd_send_signal(&check.pidfd, Signal::KILL);
    let _ = rustix::process::waitid(
        rustix::process::WaitId::PidFd(check.pidfd.as_fd()),
        rustix::process::WaitIdOptions::EXITED,
    );
}

fn set_nonblocking(fd: BorrowedFd<'_>) -> rustix::io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd)?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)
}

/// What a check's fork answered: `result:` and its JSON, or the error that stopped it.
fn answer_result(answer: &[u8]) -> Result<(i32, String), String> {
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        exit_code: i32,
        output: String,
    }
    match answer.strip_prefix(b"result:") {
        Some(json) => serde_json::from_slice::<Answer>(json)
            .map(|a| (a.exit_code, a.output))
            .map_err(|e| format!("the health check's answer: {e}")),
        None if answer.is_empty() => Err("the health check ended without an answer".into()),
        None => Err(String::from_utf8_lossy(answer).trim().to_owned()),
    }
}

/// Forks the check: the child execs `argv` into container `id` and answers through the
/// returned pipe once the command has ended (or been killed at `timeout`).
fn spawn_check(
    runtime: &OciRuntime,
    id: &str,
    argv: &[String],
    timeout: Duration,
    pid_file: &Path,
) -> io::Result<(Pid, OwnedFd)> {
    // A runtime binary's errors go to a log of this check alone (read, then removed);
    // the answer carries them. Nothing is appended per check to a log that would grow.
    let log = pid_file.with_extension("log");
    let runtime = runtime.clone().with_log(log.clone());
    let (id, argv, pid_file) = (id.to_owned(), argv.to_vec(), pid_file.to_path_buf());
    let forked = crate::forked::Forked::call_alone(Path::new("/dev/null"), move || {
        let _ = std::fs::remove_file(&log);
        let answer = run_check(&runtime, &id, &argv, timeout, &pid_file);
        let _ = std::fs::remove_file(&log);
        answer.map_err(|e| lindocker_runtime::Error::Init(e.to_string()))
    })?;
    Ok(forked.into_parts())
}

/// In the fork: runs the check and says `result:{"ExitCode":N,"Output":"..."}`.
fn run_check(
    runtime: &OciRuntime,
    id: &str,
    argv: &[String],
    timeout: Duration,
    pid_file: &Path,
) -> io::Result<String> {
    // A runtime binary's exec leaves the process to us when it exits.
    rustix::process::set_child_subreaper(Some(rustix::process::getpid()))?;
    let (out_r, out_w) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)?;
    let null = std::fs::File::open("/dev/null")?;
    rustix::stdio::dup2_stdin(&null)?;
    rustix::stdio::dup2_stdout(&out_w)?;
    rustix::stdio::dup2_stderr(&out_w)?;
    drop(out_w);
    let _ = std::fs::remove_file(pid_file);
    let started = exec_detached(runtime, id, argv, pid_file);
    // From here only the check's process holds the pipe's write end.
    let null_out = std::fs::OpenOptions::new().write(true).open("/dev/null")?;
    rustix::stdio::dup2_stdout(&null_out)?;
    rustix::stdio::dup2_stderr(&null_out)?;
    started?;
    let pid_text = std::fs::read_to_string(pid_file)?;
    let _ = std::fs::remove_file(pid_file);
    let pid = pid_text
        .trim()
        .parse()
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::other(format!("the runtime wrote no pid for the check: {pid_text:?}")))?;
    let pidfd = rustix::process::pidfd_open(pid, PidfdFlags::empty())?;
    set_nonblocking(out_r.as_fd())?;
    let mut output = Output::default();
    let deadline = Instant::now() + timeout;
    let mut timed_out = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            timed_out = true;
            break;
        }
        let mut fds = [
            rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN),
            rustix::event::PollFd::new(&out_r, rustix::event::PollFlags::IN),
        ];
        let spec = rustix::event::Timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos() as i64 };
        match rustix::event::poll(&mut fds, Some(&spec)) {
            Ok(_) | Err(rustix::io::Errno::INTR) => {}
            Err(e) => return Err(e.into()),
        }
        let (exited, readable) = (!fds[0].revents().is_empty(), !fds[1].revents().is_empty());
        if readable && output.read_from(&out_r) == Got::Closed && !exited {
            // Output closed: wait for the exit alone.
            let left = deadline.saturating_duration_since(Instant::now());
            let mut fds = [rustix::event::PollFd::new(&pidfd, rustix::event::PollFlags::IN)];
            let spec = rustix::event::Timespec { tv_sec: left.as_secs() as i64, tv_nsec: left.subsec_nanos() as i64 };
            let _ = rustix::event::poll(&mut fds, Some(&spec));
            if fds[0].revents().is_empty() {
                timed_out = true;
            }
            break;
        }
        if exited {
            break;
        }
    }
    if timed_out {
        let _ = rustix::process::pidfd_send_signal(&pidfd, Signal::KILL);
    }
    let status = loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::empty()) {
            Err(rustix::io::Errno::INTR) => continue,
            other => break other?,
        }
    };
    // What it wrote before it ended; a process it left behind may hold the pipe open.
    for _ in 0..16 {
        if output.read_from(&out_r) != Got::Data {
            break;
        }
    }
    let text = output.text();
    let (code, text) = if timed_out {
        let message = format!("Health check exceeded timeout ({})", go_duration(timeout.as_nanos() as i64));
        (-1, if text.is_empty() { message } else { format!("{message}: {text}") })
    } else {
        let code = status.and_then(|(_, s)| s.exit_status().or(s.terminating_signal().map(|n| 128 + n))).unwrap_or(-1);
        (code, text)
    };
    Ok(format!("result:{}", serde_json::json!({ "ExitCode": code, "Output": text })))
}

/// A check's output: the first [`MAX_OUTPUT`] bytes; the rest read and dropped.
#[derive(Default)]
struct Output {
    kept: Vec<u8>,
    cut: bool,
}

/// What one read of a check's output found.
#[derive(Debug, PartialEq, Eq)]
enum Got {
    Data,
    Nothing,
    Closed,
}

impl Output {
    /// Reads once from the (non-blocking) pipe.
    fn read_from(&mut self, fd: &OwnedFd) -> Got {
        let mut buf = [0u8; 4096];
        match rustix::io::read(fd, &mut buf) {
            Ok(0) => Got::Closed,
            Ok(n) => {
                let room = MAX_OUTPUT - self.kept.len();
                self.kept.extend_from_slice(&buf[..n.min(room)]);
                self.cut |= n > room;
                Got::Data
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => Got::Nothing,
            Err(_) => Got::Closed,
        }
    }

    fn text(&self) -> String {
        let mut text = String::from_utf8_lossy(&self.kept).into_owned();
        if self.cut {
            text.push_str("...");
        }
        text
    }
}

/// Execs `argv` into the container without waiting for it; its pid goes to `pid_file`.
/// Our own runtime is called as a library (this is a fork of the shim), any other is
/// run as `exec --detach`; either way the process is left as our child.
fn exec_detached(runtime: &OciRuntime, id: &str, argv: &[String], pid_file: &Path) -> io::Result<()> {
    if runtime.links_library() {
        use lindocker_runtime::container::{self, ExecOptions};
        let store = lindocker_runtime::state::Store::new(&runtime.root).map_err(io::Error::other)?;
        let spec = container::container_spec(&store, id).map_err(io::Error::other)?;
        let mut process = spec.process().clone().unwrap_or_default();
        process.set_args(Some(argv.to_vec()));
        process.set_terminal(Some(false));
        let opts = ExecOptions {
            id: id.to_owned(),
            process,
            console_socket: None,
            pid_file: Some(pid_file.to_path_buf()),
            detach: true,
            preserve_fds: 0,
            on_warning: None,
        };
        return container::exec(&store, &opts).map(drop).map_err(io::Error::other);
    }
    // The process gets our stdio (the output pipe), so nothing here waits for its end.
    let status = runtime
        .command()
        .args(["exec", "--detach", "--pid-file"])
        .arg(pid_file)
        .arg("--")
        .arg(id)
        .args(argv)
        .status()?;
    if status.success() { Ok(()) } else { Err(io::Error::other(runtime.message(&[]))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(code: i32) -> HealthResult {
        HealthResult { start: "s".into(), end: "e".into(), exit_code: code, output: String::new() }
    }

    #[test]
    fn dockers_rules_for_results() {
        let mut h = Health::default();
        // Failures in the start period do not count while starting.
        assert_eq!(h.record(result(1), 2, true), None);
        assert_eq!((h.status, h.failing_streak), (HealthStatus::Starting, 0));
        assert_eq!(h.record(result(1), 2, false), None);
        assert_eq!(h.failing_streak, 1);
        assert_eq!(h.record(result(0), 2, false), Some(HealthStatus::Healthy));
        assert_eq!(h.failing_streak, 0);
        // Once healthy, the start period no longer shields failures.
        assert_eq!(h.record(result(1), 2, true), None);
        assert_eq!(h.record(result(-1), 2, false), Some(HealthStatus::Unhealthy));
        assert_eq!(h.failing_streak, 2);
        for _ in 0..10 {
            h.record(result(3), 2, false);
        }
        assert_eq!(h.log.len(), MAX_LOG);
        assert_eq!(h.failing_streak, 12);
        let json = serde_json::to_value(&h).unwrap();
        assert_eq!(json["Status"], "unhealthy");
        assert_eq!(json["Log"][0]["ExitCode"], 3);
        assert!(json["Log"][0]["Start"].is_string() && json["Log"][0]["Output"].is_string());
    }

    #[test]
    fn output_is_cut_as_docker_cuts_it() {
        let out = Output { kept: vec![b'a'; MAX_OUTPUT], cut: true };
        assert_eq!(out.text().len(), MAX_OUTPUT + 3);
        assert!(out.text().ends_with("a..."));
        assert_eq!(answer_result(br#"result:{"ExitCode":2,"Output":"x"}"#), Ok((2, "x".into())));
        assert_eq!(answer_result(b"exec: no such file"), Err("exec: no such file".into()));
    }
}
