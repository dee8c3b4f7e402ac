//! Attaching a client to a container's shim: the HTTP upgrade (`Upgrade: tcp` -> 101,
//! then the connection carries the streams both ways, as dockerd's hijack), or a plain
//! streamed response for clients that do not upgrade (output only).

use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper::header::{CONNECTION, CONTENT_TYPE, HeaderValue, UPGRADE};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use lindocker_engine::attach::Kind;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::Service;
use crate::body::{Body, Sender, channel, empty};
use crate::streams::{Output, chunk, frame, read_frame};

/// Which streams a client attaches, and how output is framed.
#[derive(Debug, Clone, Copy, Default)]
pub struct How {
    /// The container has a terminal: raw output, no multiplexing.
    pub tty: bool,
    /// Input from the client goes to the container.
    pub stdin: bool,
    /// stdout comes out.
    pub stdout: bool,
    /// stderr comes out.
    pub stderr: bool,
}

/// The container's past output (`logs=1`), framed as the stream is, sent first.
pub type Prelude = Vec<u8>;

/// Where the shim's stream comes from.
pub enum Source {
    /// A shim serving already.
    Now(StdUnixStream),
    /// No live stream (`stream=0`): the prelude only.
    Nothing,
    /// A container not started yet: the stream its start hands over (the shim's first
    /// client, which sees all output), or, if someone else starts it, a connection made
    /// once it runs.
    Later {
        /// The start's hand-over, with where to put the exit code.
        handover: tokio::sync::oneshot::Receiver<(StdUnixStream, Option<crate::ExitTx>)>,
        /// The container.
        id: String,
    },
}

/// A duplicate of a unix client's connection (close-on-exec). A hijacked client's EOF
/// may be a half-close (`docker attach` with its stdin at its end, still reading); its
/// hang-up (`POLLHUP`: both directions gone) is told by polling this.
#[derive(Debug, Clone)]
pub struct ClientFd(pub Arc<std::os::fd::OwnedFd>);

impl ClientFd {
    /// Resolves once the client hung up (looked at twice a second).
    pub async fn hung_up(&self) {
        use rustix::event::{PollFd, PollFlags, Timespec, poll};
        loop {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let mut fds = [PollFd::new(&*self.0, PollFlags::empty())];
            let now = Timespec { tv_sec: 0, tv_nsec: 0 };
            if poll(&mut fds, Some(&now)).is_err()
                || fds[0].revents().intersects(PollFlags::HUP | PollFlags::ERR | PollFlags::NVAL)
            {
                return;
            }
        }
    }
}

/// Whether the client asked to upgrade the connection.
pub fn wants_upgrade(request: &Request<Incoming>) -> bool {
    request.headers().get(UPGRADE).is_some()
}

/// The response that attaches the client, relaying `source` in a task of its own.
pub fn attach(
    service: &Arc<Service>,
    request: Request<Incoming>,
    how: How,
    prelude: Prelude,
    source: Source,
) -> Response<Body> {
    let content_type =
        if how.tty { "application/vnd.docker.raw-stream" } else { "application/vnd.docker.multiplexed-stream" };
    let busy = service.activity.busy();
    let service = service.clone();
    let mut response = if wants_upgrade(&request) {
        let hangup = request.extensions().get::<ClientFd>().cloned();
        let upgrade = hyper::upgrade::on(request);
        tokio::spawn(async move {
            let _busy = busy;
            let Ok(upgraded) = upgrade.await else { return };
            let mut client = TokioIo::new(upgraded);
            if !prelude.is_empty() && client.write_all(&prelude).await.is_err() {
                return;
            }
            let waited = async {
                match &hangup {
                    Some(fd) => tokio::select! {
                        found = resolve(&service, source) => found,
                        () = fd.hung_up() => None,
                    },
                    None => resolve(&service, source).await,
                }
            };
            let Some((shim, exit)) = waited.await else {
                let _ = client.shutdown().await;
                return;
            };
            relay(client, shim, how, exit, hangup).await;
        });
        let mut response = Response::new(empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        response.headers_mut().insert(CONNECTION, HeaderValue::from_static("Upgrade"));
        response.headers_mut().insert(UPGRADE, HeaderValue::from_static("tcp"));
        response
    } else {
        let (tx, body) = channel();
        drop(request);
        tokio::spawn(async move {
            let _busy = busy;
            // A client that goes away ends it all: waiting for a start that may never
            // come, or for output from a silent container, would keep the service busy.
            let gone = tx.clone();
            let stream = async move {
                if !prelude.is_empty() && !tx.send(prelude).await {
                    return;
                }
                let Some((shim, exit)) = resolve(&service, source).await else { return };
                relay_out(shim, how, tx, exit).await;
            };
            tokio::select! {
                () = stream => {}
                () = gone.closed() => {}
            }
        });
        Response::new(body)
    };
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// The shim's stream, in the runtime.
async fn resolve(service: &Arc<Service>, source: Source) -> Option<(tokio::net::UnixStream, Option<crate::ExitTx>)> {
    let (std, exit) = match source {
        Source::Now(s) => (s, None),
        Source::Nothing => return None,
        Source::Later { handover, id } => {
            tokio::select! {
                s = handover => s.ok()?,
                s = started_elsewhere(service.clone(), id) => (s?, None),
            }
        }
    };
    Some((into_tokio(std)?, exit))
}

/// A shim's stream inside the runtime.
pub fn into_tokio(std: StdUnixStream) -> Option<tokio::net::UnixStream> {
    std.set_nonblocking(true).ok()?;
    tokio::net::UnixStream::from_std(std).ok()
}

/// Records the exit code a shim's `Exit` frame carries.
fn record_exit(exit: Option<&crate::ExitTx>, payload: &[u8]) {
    if let (Some(exit), Ok(code)) = (exit, String::from_utf8_lossy(payload).parse::<i32>()) {
        exit.send_replace(Some(code));
    }
}

/// Holds a start's stream nobody attached to, for the exit code.
pub async fn hold_for_exit(mut shim: tokio::net::UnixStream, exit: crate::ExitTx) {
    while let Ok(Some((kind, data))) = read_frame(&mut shim).await {
        if kind == Kind::Exit {
            record_exit(Some(&exit), &data);
            return;
        }
    }
}

/// A connection to the shim once the container runs (started by someone else: the CLI,
/// a restart policy); `None` once it is gone.
async fn started_elsewhere(service: Arc<Service>, id: String) -> Option<StdUnixStream> {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if service.starting(&id) {
            continue; // our own start hands its stream over
        }
        let engine = service.engine.clone();
        let id2 = id.clone();
        let found = tokio::task::spawn_blocking(move || {
            let record = engine.records().read(&id2).ok().map(|r| engine.reconcile(r))?;
            if !record.state.status.is_live() {
                return Some(None);
            }
            Some(lindocker_runtime::socket_path::connect(&engine.attach_socket(&id2)).ok())
        })
        .await
        .ok()?;
        match found {
            None => return None,
            Some(Some(stream)) => return Some(stream),
            Some(None) => {}
        }
    }
}

/// Output of the shim to the client, input of the client to the shim, until the
/// container ends (or the client goes away).
async fn relay<C: AsyncRead + AsyncWrite + Send>(
    client: C,
    shim: tokio::net::UnixStream,
    how: How,
    exit: Option<crate::ExitTx>,
    hangup: Option<ClientFd>,
) {
    let (mut client_in, mut client_out) = tokio::io::split(client);
    let (mut shim_in, mut shim_out) = shim.into_split();
    let input = async {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            match client_in.read(&mut buf).await {
                Ok(0) | Err(_) => {
                    if how.stdin {
                        let _ = shim_out.write_all(&frame(Kind::StdinClose, b"")).await;
                    }
                    break;
                }
                Ok(n) if how.stdin => {
                    if shim_out.write_all(&frame(Kind::Stdin, &buf[..n])).await.is_err() {
                        break;
                    }
                }
                // Without stdin attached, what the client sends is dropped.
                Ok(_) => {}
            }
        }
        // The client closed its side: output still flows until the container ends, or
        // until the client hangs up (else a silent container's relay, and the service's
        // busy mark, would outlive it).
        match &hangup {
            Some(fd) => fd.hung_up().await,
            None => std::future::pending::<()>().await,
        }
    };
    let output = async {
        while let Ok(Some((kind, data))) = read_frame(&mut shim_in).await {
            let out = match kind {
                Kind::Stdout if how.stdout => chunk(how.tty, Output::Stdout, &data),
                Kind::Stderr if how.stderr => chunk(how.tty, Output::Stderr, &data),
                Kind::Exit => {
                    record_exit(exit.as_ref(), &data);
                    break;
                }
                _ => continue,
            };
            if client_out.write_all(&out).await.is_err() || client_out.flush().await.is_err() {
                return;
            }
        }
        let _ = client_out.shutdown().await;
    };
    tokio::select! {
        () = input => {}
        () = output => {}
    }
}

/// Output only, into a streamed response body.
async fn relay_out(mut shim: tokio::net::UnixStream, how: How, tx: Sender, exit: Option<crate::ExitTx>) {
    while let Ok(Some((kind, data))) = read_frame(&mut shim).await {
        let out = match kind {
            Kind::Stdout if how.stdout => chunk(how.tty, Output::Stdout, &data),
            Kind::Stderr if how.stderr => chunk(how.tty, Output::Stderr, &data),
            Kind::Exit => {
                record_exit(exit.as_ref(), &data);
                break;
            }
            _ => continue,
        };
        if !tx.send(out).await {
            return;
        }
    }
}
