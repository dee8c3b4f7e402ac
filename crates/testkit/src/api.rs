//! `lindocker system service` for a test's [`Engine`]: started on a socket in the
//! engine's temp dir, ready once `/_ping` answers, stopped and reaped when dropped; the
//! real docker CLI pointed at it, and a raw HTTP client for hand-written requests.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::Engine;

/// A running API service.
pub struct Api {
    /// Its socket.
    pub socket: PathBuf,
    /// `unix://` + the socket: the value for `DOCKER_HOST`.
    pub host: String,
    /// A `DOCKER_CONFIG` directory of its own (no credentials, no contexts of the host).
    pub config: PathBuf,
    /// Where the service's output goes.
    pub log: PathBuf,
    dir: PathBuf,
    child: Option<Child>,
}

impl Api {
    /// `lindocker system service --time 0 unix://SOCKET` for `engine`, ready.
    pub fn start(engine: &Engine) -> Api {
        Api::start_with(engine, &["--time", "0"])
    }

    /// The service with `args` before the address, ready.
    pub fn start_with(engine: &Engine, args: &[&str]) -> Api {
        let api = Api::spawn(engine, args);
        api.wait_ready(Duration::from_secs(20));
        api
    }

    /// The service started, not waited for.
    pub fn spawn(engine: &Engine, args: &[&str]) -> Api {
        let dir = engine.root.with_extension("api");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let socket = dir.join("docker.sock");
        let config = dir.join("docker-config");
        std::fs::create_dir_all(&config).unwrap();
        let log = dir.join("service.log");
        let mut cmd = engine.cmd();
        cmd.args(["system", "service"]).args(args).arg(format!("unix://{}", socket.display()));
        cmd.env("LINDOCKER_API_LOG", "1");
        cmd.stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(dir.join("service.err")).unwrap());
        let child = cmd.spawn().expect("start lindocker system service");
        let host = format!("unix://{}", socket.display());
        Api { socket, host, config, log, dir, child: Some(child) }
    }

    /// Waits until `/_ping` answers `OK`; panics with the service's output if not.
    pub fn wait_ready(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(reply) = self.try_request("GET", "/_ping", &[], b"")
                && reply.status == 200
                && reply.body == b"OK"
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("the API service did not answer /_ping within {limit:?}:\n{}", self.output());
    }

    /// What the service wrote.
    pub fn output(&self) -> String {
        let err = std::fs::read_to_string(self.dir.join("service.err")).unwrap_or_default();
        let out = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("stdout: {out}\nstderr: {err}")
    }

    /// The service's process, if it still runs (not yet reaped).
    pub fn child(&mut self) -> &mut Child {
        self.child.as_mut().unwrap()
    }

    /// The docker CLI with `DOCKER_HOST` and `DOCKER_CONFIG` set. A missing `docker`
    /// fails the test, with what to install.
    pub fn docker(&self) -> Command {
        let found =
            std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("docker").is_file()));
        assert!(
            found,
            "the docker CLI is not on PATH: these tests drive the real docker client (install docker.io or docker-ce-cli; no daemon needed)"
        );
        let mut c = Command::new("docker");
        c.env("DOCKER_HOST", &self.host)
            .env("DOCKER_CONFIG", &self.config)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_API_VERSION")
            .stdin(Stdio::null());
        c
    }

    /// Runs `docker args`, output captured through files.
    pub fn docker_run(&self, args: &[&str]) -> Output {
        let mut c = self.docker();
        c.args(args);
        crate::output_via_files(c, &self.dir.join("docker"))
    }

    /// Runs `docker args`, insisting on success; its stdout.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self.docker_run(args);
        if !out.status.success() {
            panic!(
                "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}\nservice: {}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.output()
            );
        }
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A connection to the service.
    pub fn connect(&self) -> UnixStream {
        UnixStream::connect(&self.socket).expect("connect to the API socket")
    }

    /// One HTTP/1.1 request (`Connection: close`), the whole reply read.
    pub fn request(&self, method: &str, path: &str, body: &[u8]) -> Reply {
        self.try_request(method, path, &[], body).expect("an HTTP reply")
    }

    /// One request with extra headers; `Err` if the connection failed.
    pub fn try_request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Reply> {
        let mut s = UnixStream::connect(&self.socket)?;
        s.set_read_timeout(Some(Duration::from_secs(60)))?;
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type")) {
                head.push_str("Content-Type: application/json\r\n");
            }
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes())?;
        // A server that refuses a body stops reading it: its answer is still there.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        if let Err(e) = s.read_to_end(&mut raw)
            && raw.is_empty()
        {
            return Err(e);
        }
        Reply::parse(&raw, method == "HEAD")
    }
}

/// An HTTP reply.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (chunked encoding undone).
    pub body: Vec<u8>,
}

impl Reply {
    /// Parses a whole HTTP/1.1 reply.
    pub fn parse(raw: &[u8], head_only: bool) -> std::io::Result<Reply> {
        let bad = |what: &str| std::io::Error::other(format!("{what}: {:?}", String::from_utf8_lossy(raw)));
        let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| bad("no end of headers"))?;
        let head = std::str::from_utf8(&raw[..end]).map_err(|_| bad("headers not UTF-8"))?;
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no status"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut rest = &raw[end + 4..];
        let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if head_only {
            Vec::new()
        } else if chunked {
            let mut body = Vec::new();
            loop {
                let line_end = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(|| bad("bad chunk"))?;
                let size = usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap_or("x").trim(), 16)
                    .map_err(|_| bad("bad chunk size"))?;
                rest = &rest[line_end + 2..];
                if size == 0 {
                    break;
                }
                body.extend_from_slice(rest.get(..size).ok_or_else(|| bad("short chunk"))?);
                rest = rest.get(size + 2..).unwrap_or_default();
            }
            body
        } else {
            rest.to_vec()
        };
        Ok(Reply { status, headers, body })
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("reply body not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = rustix::process::Pid::from_raw(child.id() as i32) {
                let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::env::var_os("LINDOCKER_TEST_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// `lindocker system service --time 0 ADDRESS` for `engine` (in its fake host when it
/// has one), not waited for; ended on drop. For TCP listeners, which [`Api`] does not
/// talk to.
pub struct Service(std::process::Child);

impl Service {
    /// Starts the service on `address` (e.g. `tcp://127.0.0.1:2375`).
    pub fn start(engine: &crate::Engine, address: &str) -> Service {
        let child = engine
            .cmd()
            .args(["system", "service", "--time", "0", address])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start lindocker system service");
        Service(child)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
