//! The exec endpoints: create (`POST /containers/{id}/exec`), start (`POST
//! /exec/{id}/start`, hijacked like attach, with or without a terminal, or detached),
//! inspect (`GET /exec/{id}/json`: `Running`, `ExitCode`), resize. The process is the
//! runtime's `exec`, a child of this service; its stdio (pipes, or the pty master the
//! runtime sends) is relayed to the client.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lindocker_engine::exec_launch::ExecRequest;
use serde::Deserialize;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::body::{Body, empty};
use crate::containers::find;
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
    if body.privileged {
        return Err(ApiError::bad("privileged exec is not supported by lindocker"));
    }
    let cmd = body.cmd.unwrap_or_default();
    if cmd.is_empty() {
        return Err(ApiError::bad("No exec command specified"));
    }
    let nonempty = |s: String| (!s.is_empty()).then_some(s);
    let request = ExecRequest {
        cmd,
        env: body.env.unwrap_or_default(),
        user: nonempty(body.user),
        workdir: nonempty(body.working_dir),
        tty: body.tty,
        detach: false,
    };
    let name = name.to_owned();
    let record = ctx.blocking(move |engine| find(engine, &name)).await?;
    match record.state.status {
        lindocker_engine::record::Status::Running => {}
        lindocker_engine::record::Status::Paused => {
            return Err(ApiError::conflict(format!(
                "Container {} is paused, unpause the container before exec",
                record.id
            )));
        }
        _ => return Err(ApiError::conflict(format!("Container {} is not running", record.id))),
    }
    let id = lindocker_engine::ids::new_id();
    // Docker's exec events: the command in the action, the exec's own id attribute.
    ctx.service.engine.events().emit(lindocker_engine::events::Event::container(
        &record,
        &format!("exec_create: {}", request.cmd.join(" ")),
        &[("execID", id.clone())],
    ));
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
                "privileged": false, "user": e.request.user.clone().unwrap_or_default(),
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
    let (container, exec_request, how) = {
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
        // Detached, no terminal: nobody would read it.
        let request = ExecRequest { detach: start.detach, tty: e.request.tty && !start.detach, ..e.request.clone() };
        (e.container.clone(), request, how)
    };
    let launch = ctx.blocking(move |engine| Ok(engine.exec_launch(&container, &exec_request)?)).await;
    let launch = match launch {
        Ok(launch) => launch,
        Err(e) => {
            let mut x = exec.lock().unwrap_or_else(|e| e.into_inner());
            x.running = false;
            x.exit_code = Some(126);
            return Err(e);
        }
    };
    let busy = ctx.service.activity.busy();
    let events = ctx.service.engine.events().clone();
    if start.detach {
        tokio::spawn(async move {
            let _busy = busy;
            run_detached(launch, exec).await;
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
                    Ok(upgraded) => run_attached(events, launch, exec, how, TokioIo::new(upgraded)).await,
                    Err(_) => run_attached(events, launch, exec, how, closed_stream()).await,
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
                run_attached(events, launch, exec, how, server).await;
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

/// The runtime's status as Docker's exit code (126/127 if it could not start it).
fn exit_code(
    launch: &lindocker_engine::exec_launch::ExecLaunch,
    status: std::io::Result<std::process::ExitStatus>,
) -> i32 {
    if let Some((_, code)) = launch.failure() {
        return code;
    }
    match status {
        Ok(s) => s.code().unwrap_or_else(|| 128 + std::os::unix::process::ExitStatusExt::signal(&s).unwrap_or(0)),
        Err(_) => 126,
    }
}

async fn run_detached(mut launch: lindocker_engine::exec_launch::ExecLaunch, exec: Arc<Mutex<Exec>>) {
    let std_command = std::mem::replace(&mut launch.command, std::process::Command::new("/"));
    let mut command = tokio::process::Command::from(std_command);
    command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    // The runtime returns once the process runs; its end is nobody's to see.
    let status = match command.spawn() {
        Ok(mut child) => child.wait().await,
        Err(e) => Err(e),
    };
    if launch.failure().is_some() || status.as_ref().map_or(true, |s| !s.success()) {
        ended(&exec, exit_code(&launch, status));
    }
    launch.finish();
}

async fn run_attached<C: AsyncRead + AsyncWrite + Send + 'static>(
    events: lindocker_engine::events::Journal,
    mut launch: lindocker_engine::exec_launch::ExecLaunch,
    exec: Arc<Mutex<Exec>>,
    how: crate::hijack::How,
    client: C,
) {
    let std_command = std::mem::replace(&mut launch.command, std::process::Command::new("/"));
    let mut command = tokio::process::Command::from(std_command);
    let tty = launch.console.is_some();
    if tty {
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
    } else {
        command
            .stdin(if how.stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(_) => {
            ended(&exec, 126);
            launch.finish();
            return;
        }
    };
    let (exec_id, command) = {
        let mut e = exec.lock().unwrap_or_else(|e| e.into_inner());
        e.pid = child.id().unwrap_or(0);
        (e.id.clone(), e.request.cmd.join(" "))
    };
    let event = |action: String, extra: Option<(&'static str, String)>| {
        let mut attrs = vec![("execID", exec_id.clone())];
        attrs.extend(extra);
        events.emit(lindocker_engine::events::Event::container(&launch.record, &action, &attrs));
    };
    event(format!("exec_start: {command}"), None);
    let (mut client_in, mut client_out) = tokio::io::split(client);
    let status = if let Some(listener) = launch.console.take() {
        match receive_master(listener, &mut child).await {
            Some(master) => {
                {
                    let mut e = exec.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(size) = e.size {
                        let _ = set_size(&master, size);
                    }
                    e.master = master.try_clone().ok();
                }
                relay_terminal(master, &mut client_in, &mut client_out, how.stdin).await;
                child.wait().await
            }
            None => child.wait().await,
        }
    } else {
        relay_pipes(&mut child, &mut client_in, &mut client_out, how).await
    };
    let code = exit_code(&launch, status);
    event("exec_die".into(), Some(("exitCode", code.to_string())));
    // Recorded before the client hears the end: it asks for the code next.
    ended(&exec, code);
    let _ = client_out.shutdown().await;
    launch.finish();
}

/// The pty master the runtime sends over the console socket, unless it ends first.
async fn receive_master(
    listener: std::os::unix::net::UnixListener,
    child: &mut tokio::process::Child,
) -> Option<OwnedFd> {
    listener.set_nonblocking(true).ok()?;
    let listener = tokio::net::UnixListener::from_std(listener).ok()?;
    let stream = tokio::select! {
        accepted = listener.accept() => accepted.ok()?.0,
        _ = child.wait() => return None,
    };
    let stream = stream.into_std().ok()?;
    stream.set_nonblocking(false).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    tokio::task::spawn_blocking(move || lindocker_runtime::console::receive_fd(&stream).ok()).await.ok()?
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
    child: &mut tokio::process::Child,
    client_in: &mut (impl AsyncRead + Unpin),
    client_out: &mut (impl AsyncWrite + Unpin),
    how: crate::hijack::How,
) -> std::io::Result<std::process::ExitStatus> {
    let mut stdin = child.stdin.take();
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
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
                s = child.wait(), if !done => status = Some(s),
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
            None => child.wait().await,
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
