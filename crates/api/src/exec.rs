//! The exec endpoints: create (`POST /containers/{id}/exec`), start (`POST
//! /exec/{id}/start`, hijacked like attach, with or without a terminal, or detached),
//! inspect (`GET /exec/{id}/json`: `Running`, `ExitCode`), resize. The engine's
//! [`Engine::exec_create`] and [`Engine::exec_start`] (in blocking tasks) start the
//! process and hand over its stdio (pipes, or the pty master), relayed to the client here.
//!
//! [`Engine::exec_create`]: lindocker_engine::Engine::exec_create
//! [`Engine::exec_start`]: lindocker_engine::Engine::exec_start

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lindocker_engine::EngineError;
use lindocker_engine::exec::{Exec as Process, ExecIo, ExecRequest};
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::unix::pipe;

use crate::body::{Body, empty};
use crate::error::{ApiError, ApiResult};
use crate::router::{Ctx, Routed, json, with_status};
use crate::streams::{Output, chunk};

/// The execs this service made (Docker keeps them until their container goes).
pub type Execs = Mutex<HashMap<String, Arc<Mutex<Exec>>>>;

/// One exec.
#[derive(Debug)]
pub struct Exec {
    id: String,
    container: String,
    request: ExecRequest,
    stdin: bool,
    stdout: bool,
    stderr: bool,
    running: bool,
    started: bool,
    exit_code: Option<i32>,
    pid: u32,
    /// The terminal's master, for resize.
    master: Option<OwnedFd>,
    /// The terminal's size (rows, columns), for when the master arrives.
    size: Option<(u16, u16)>,
}

/// `POST /containers/{id}/exec`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    user: String,
    working_dir: String,
    privileged: bool,
    console_size: Option<[u16; 2]>,
}

/// `POST /exec/{id}/start`'s body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    console_size: Option<[u16; 2]>,
}

/// Routes `/containers/{id}/exec` and `/exec/...`.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    let path = ctx.path();
    let method = request.method().as_str().to_owned();
    let result = match (method.as_str(), path.as_slice()) {
        ("POST", ["containers", id, "exec"]) => create(ctx, id, request).await,
        ("POST", ["exec", id, "start"]) => start(ctx, id, request).await,
        ("GET", ["exec", id, "json"]) => inspect(ctx, id),
        ("POST", ["exec", id, "resize"]) => resize(ctx, id),
        _ => return Err(request),
    };
    Ok(result)
}

fn lookup(ctx: &Ctx, id: &str) -> ApiResult<Arc<Mutex<Exec>>> {
    let execs = ctx.service.execs.lock().unwrap_or_else(|e| e.into_inner());
    execs.get(id).cloned().ok_or_else(|| ApiError::not_found(format!("No such exec instance: {id}")))
}

async fn create(ctx: &Ctx, name: &str, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let body: CreateBody = crate::router::read_json(request).await?;
    crate::containers::check_ref(name)?;
    let nonempty = |s: String| (!s.is_empty()).then_some(s);
    let mut request = ExecRequest {
        container: name.to_owned(),
        cmd: body.cmd.unwrap_or_default(),
        env: body.env.unwrap_or_default(),
        user: nonempty(body.user),
        workdir: nonempty(body.working_dir),
        tty: body.tty,
        stdin: body.attach_stdin,
        detach: false,
        privileged: body.privileged,
    };
    let checked = request.clone();
    let (id, record) = ctx.blocking(move |engine| Ok(engine.exec_create(&checked)?)).await?;
    // Started in this container, whatever its name is by then.
    request.container = record.id.clone();
    let exec = Exec {
        id: id.clone(),
        container: record.id,
        request,
        stdin: body.attach_stdin,
        stdout: body.attach_stdout,
        stderr: body.attach_stderr,
        running: false,
        started: false,
        exit_code: None,
        pid: 0,
        master: None,
        size: body.console_size.map(|[h, w]| (h, w)),
    };
    ctx.service.execs.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), Arc::new(Mutex::new(exec)));
    json(StatusCode::CREATED, &json!({ "Id": id }))
}

fn inspect(ctx: &Ctx, id: &str) -> ApiResult<Response<Body>> {
    let exec = lookup(ctx, id)?;
    let e = exec.lock().unwrap_or_else(|e| e.into_inner());
    json(
        StatusCode::OK,
        &json!({
            "ID": id, "Running": e.running, "ExitCode": e.exit_code, "ContainerID": e.container,
            "OpenStdin": e.stdin, "OpenStdout": e.stdout, "OpenStderr": e.stderr, "CanRemove": false, "DetachKeys": "",
            "Pid": e.pid,
            "ProcessConfig": {
                "tty": e.request.tty, "entrypoint": e.request.cmd.first(), "arguments": e.request.cmd.iter().skip(1).collect::<Vec<_>>(),
                "privileged": e.request.privileged, "user": e.request.user.clone().unwrap_or_default(),
            },
        }),
    )
}

fn resize(ctx: &Ctx, id: &str) -> ApiResult<Response<Body>> {
    let (h, w) = crate::containers::size(ctx)?;
    let exec = lookup(ctx, id)?;
    let mut e = exec.lock().unwrap_or_else(|e| e.into_inner());
    if !e.request.tty {
        return Err(ApiError::conflict("the exec has no terminal"));
    }
    // Before the terminal exists (the client resizes right after start), kept for it.
    e.size = Some((h, w));
    if let Some(master) = &e.master {
        set_size(master, (h, w)).map_err(|e| ApiError::internal(e.to_string()))?;
    }
    Ok(with_status(StatusCode::OK, empty()))
}

fn set_size(master: &OwnedFd, (rows, cols): (u16, u16)) -> rustix::io::Result<()> {
    rustix::termios::tcsetwinsize(
        master,
        rustix::termios::Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 },
    )
}

async fn start(ctx: &Ctx, id: &str, mut request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let exec = lookup(ctx, id)?;
    let upgrade = crate::hijack::wants_upgrade(&request).then(|| hyper::upgrade::on(&mut request));
    let body = crate::router::read_json_body(request).await?;
    let start: StartBody = if body.iter().all(u8::is_ascii_whitespace) {
        StartBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::bad(format!("invalid JSON: {e}")))?
    };
    let (exec_id, exec_request, how) = {
        let mut e = exec.lock().unwrap_or_else(|e| e.into_inner());
        if e.started {
            return Err(ApiError::conflict(format!("Exec {id} has already started")));
        }
        e.started = true;
        e.running = true;
        if let Some([h, w]) = start.console_size {
            e.size = Some((h, w));
        }
        let how = crate::hijack::How { tty: e.request.tty, stdin: e.stdin, stdout: e.stdout, stderr: e.stderr };
        // Detached, no terminal: nobody would read it. Input only through the upgrade.
        let tty = e.request.tty && !start.detach;
        let stdin = e.stdin && upgrade.is_some() && !start.detach;
        let request = ExecRequest { detach: start.detach, tty, stdin, ..e.request.clone() };
        (e.id.clone(), request, how)
    };
    let started = ctx.blocking(move |engine| Ok(engine.exec_start(&exec_id, &exec_request)?)).await;
    let process = match started {
        Ok(process) => process,
        Err(e) => {
            ended(&exec, 126);
            return Err(e);
        }
    };
    exec.lock().unwrap_or_else(|e| e.into_inner()).pid = process.runtime_pid();
    let busy = ctx.service.activity.busy();
    if start.detach {
        // As long as the process runs: a thread of its own, not the blocking pool.
        crate::body::spawn_long(move || {
            let _busy = busy;
            run_detached(process, &exec);
        });
        return Ok(with_status(StatusCode::OK, empty()));
    }
    let content_type =
        if how.tty { "application/vnd.docker.raw-stream" } else { "application/vnd.docker.multiplexed-stream" };
    let mut response = match upgrade {
        Some(upgrade) => {
            tokio::spawn(async move {
                let _busy = busy;
                match upgrade.await {
                    Ok(upgraded) => run_attached(process, exec, how, TokioIo::new(upgraded)).await,
                    Err(_) => run_attached(process, exec, how, closed_stream()).await,
                }
            });
            let mut r = with_status(StatusCode::SWITCHING_PROTOCOLS, empty());
            r.headers_mut().insert(CONNECTION, HeaderValue::from_static("Upgrade"));
            r.headers_mut().insert(UPGRADE, HeaderValue::from_static("tcp"));
            r
        }
        None => {
            // Without the upgrade: output as a streamed body, no input.
            let (client, server) = tokio::io::duplex(64 * 1024);
            let how = crate::hijack::How { stdin: false, ..how };
            tokio::spawn(async move {
                let _busy = busy;
                run_attached(process, exec, how, server).await;
            });
            let (tx, body) = crate::body::channel();
            tokio::spawn(async move {
                let mut client = client;
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n) = client.read(&mut buf).await {
                    if n == 0 || !tx.send(buf[..n].to_vec()).await {
                        break;
                    }
                }
            });
            Response::new(body)
        }
    };
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

/// A stream that is already closed (a failed upgrade: nobody to talk to).
fn closed_stream() -> tokio::io::DuplexStream {
    tokio::io::duplex(1).0
}

/// The exec's end: its exit code recorded.
fn ended(exec: &Arc<Mutex<Exec>>, code: i32) {
    let mut e = exec.lock().unwrap_or_else(|e| e.into_inner());
    e.running = false;
    e.exit_code = Some(code);
    e.master = None;
}

/// The process's exit code as Docker's (126/127 if the runtime could not start it).
fn exit_code(waited: Result<i32, EngineError>) -> i32 {
    match waited {
        Ok(code) => code,
        Err(EngineError::StartFailed { code, .. }) => code,
        Err(_) => 126,
    }
}

/// Waits for the runtime in a blocking task (the process handed back, to be dropped
/// once the end is recorded: dropping it journals `exec_die`).
async fn wait(mut process: Process) -> (Process, i32) {
    // As long as the process runs: a thread of its own, not the blocking pool.
    crate::body::spawn_long(move || {
        let code = exit_code(process.wait());
        (process, code)
    })
    .await
    .expect("the waiting thread answers")
}

/// Detached: the runtime returns once the process runs; its end is nobody's to see,
/// unless it could not start it.
fn run_detached(mut process: Process, exec: &Arc<Mutex<Exec>>) {
    match process.wait() {
        Ok(0) => {}
        failed => ended(exec, exit_code(failed)),
    }
}

async fn run_attached<C: AsyncRead + AsyncWrite + Send + 'static>(
    mut process: Process,
    exec: Arc<Mutex<Exec>>,
    how: crate::hijack::How,
    client: C,
) {
    let (mut client_in, mut client_out) = tokio::io::split(client);
    let (process, code) = match process.take_io() {
        ExecIo::Terminal(master) => {
            {
                let mut e = exec.lock().unwrap_or_else(|e| e.into_inner());
                if let Some(size) = e.size {
                    let _ = set_size(&master, size);
                }
                e.master = master.try_clone().ok();
            }
            relay_terminal(master, &mut client_in, &mut client_out, how.stdin).await;
            wait(process).await
        }
        ExecIo::Pipes { stdin, stdout, stderr } => {
            let pipes = Pipes::new(stdin, stdout, stderr);
            match pipes {
                Ok(pipes) => relay_pipes(process, pipes, &mut client_in, &mut client_out, how).await,
                Err(_) => wait(process).await,
            }
        }
        ExecIo::None => wait(process).await,
    };
    // Recorded before the client hears the end: it asks for the code next.
    ended(&exec, code);
    drop(process);
    let _ = client_out.shutdown().await;
}

/// The process's pipes as the runtime's reactor reads and writes them.
struct Pipes {
    stdin: Option<pipe::Sender>,
    stdout: Option<pipe::Receiver>,
    stderr: Option<pipe::Receiver>,
}

impl Pipes {
    fn new(stdin: Option<OwnedFd>, stdout: OwnedFd, stderr: OwnedFd) -> std::io::Result<Pipes> {
        Ok(Pipes {
            stdin: stdin.map(pipe::Sender::from_owned_fd).transpose()?,
            stdout: Some(pipe::Receiver::from_owned_fd(stdout)?),
            stderr: Some(pipe::Receiver::from_owned_fd(stderr)?),
        })
    }
}

async fn relay_terminal(
    master: OwnedFd,
    client_in: &mut (impl AsyncRead + Unpin),
    client_out: &mut (impl AsyncWrite + Unpin),
    stdin: bool,
) {
    let Ok(writer) = master.try_clone() else { return };
    let mut reader = tokio::fs::File::from_std(std::fs::File::from(master));
    let mut writer = tokio::fs::File::from_std(std::fs::File::from(writer));
    let input = async {
        let mut buf = vec![0u8; 16 * 1024];
        if stdin {
            loop {
                match client_in.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if writer.write_all(&buf[..n]).await.is_err() || writer.flush().await.is_err() {
                            break;
                        }
                    }
                }
            }
        }
        std::future::pending::<()>().await;
    };
    let output = async {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf).await {
                // EIO once the last process holding the terminal ended.
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if client_out.write_all(&buf[..n]).await.is_err() || client_out.flush().await.is_err() {
                        break;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = input => {}
        () = output => {}
    }
}

async fn relay_pipes(
    process: Process,
    pipes: Pipes,
    client_in: &mut (impl AsyncRead + Unpin),
    client_out: &mut (impl AsyncWrite + Unpin),
    how: crate::hijack::How,
) -> (Process, i32) {
    let Pipes { mut stdin, stdout: mut out, stderr: mut err } = pipes;
    let input = async {
        let mut buf = vec![0u8; 32 * 1024];
        if let Some(pipe) = stdin.as_mut() {
            while let Ok(n) = client_in.read(&mut buf).await {
                if n == 0 || pipe.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
        // Its end closes at the client's end of input, so the process sees it too.
        drop(stdin.take());
        std::future::pending::<()>().await;
    };
    let output = async {
        let (mut obuf, mut ebuf) = (vec![0u8; 32 * 1024], vec![0u8; 32 * 1024]);
        let mut waiter = Box::pin(wait(process));
        let mut status = None;
        loop {
            let done = status.is_some();
            tokio::select! {
                n = read_some(&mut out, &mut obuf) => {
                    match n {
                        Some(n) if how.stdout => if client_out.write_all(&chunk(how.tty, Output::Stdout, &obuf[..n])).await.is_err() { break },
                        Some(_) => {}
                        None => out = None,
                    }
                }
                n = read_some(&mut err, &mut ebuf) => {
                    match n {
                        Some(n) if how.stderr => if client_out.write_all(&chunk(how.tty, Output::Stderr, &ebuf[..n])).await.is_err() { break },
                        Some(_) => {}
                        None => err = None,
                    }
                }
                s = &mut waiter, if !done => status = Some(s),
                // Once the runtime has ended, only what is already written is read: a
                // process it left behind may hold the pipes for good.
                _ = tokio::time::sleep(Duration::from_millis(100)), if done => break,
            }
            let _ = client_out.flush().await;
            if out.is_none() && err.is_none() && status.is_some() {
                break;
            }
        }
        match status {
            Some(s) => s,
            None => waiter.await,
        }
    };
    tokio::select! {
        () = input => unreachable!("input never ends"),
        s = output => s,
    }
}

/// One read from a pipe; `None` at its end (or if there is none: then never ready).
async fn read_some<R: AsyncRead + Unpin>(pipe: &mut Option<R>, buf: &mut [u8]) -> Option<usize> {
    match pipe {
        Some(p) => match p.read(buf).await {
            Ok(0) | Err(_) => None,
            Ok(n) => Some(n),
        },
        None => std::future::pending().await,
    }
}
