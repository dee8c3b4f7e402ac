//! The Docker Engine API over lindocker's engine (`lindocker system service`): the same
//! containers, records and shims as the CLI's, served over a unix socket (or loopback
//! TCP) to the docker CLI, docker-compose and the SDKs.
//!
//! One small tokio runtime (current thread) parses HTTP with hyper; the engine's calls
//! block, so handlers run them in `spawn_blocking` (short ones) or on a thread of their
//! own (`body::spawn_long`: streams that last as long as their client). Handlers are
//! thin: HTTP in, typed engine call, JSON out. The service exits after `--time` idle seconds (no connection
//! open), so nothing runs at rest when a socket unit starts it on demand.

pub mod body;
pub mod build;
pub mod containers;
pub mod error;
pub mod events;
pub mod exec;
pub mod filter_map;
pub mod hijack;
pub mod images;
pub mod listen;
pub mod models;
pub mod networks;
pub mod pipes;
pub mod query;
pub mod reaper;
pub mod rebinding;
pub mod router;
pub mod streams;
pub mod version;

use std::collections::{HashMap, HashSet};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hyper_util::rt::TokioIo;
use lindocker_engine::Engine;

pub use listen::{Address, Listener};

/// What the handlers share.
#[derive(Debug)]
pub struct Service {
    /// The engine (cloned into blocking tasks).
    pub engine: Engine,
    /// Open connections and the last time one closed.
    pub activity: Arc<Activity>,
    /// Clients attached to containers not started yet, waiting for the start's stream.
    pub attach_waiters: Mutex<HashMap<String, Vec<Handover>>>,
    /// Containers this service is starting (their attach waiters get the start's stream).
    pub starting: Mutex<HashSet<String>>,
    /// The exit code of each container this service started, as the holder of the start's
    /// stream hears it: a `--rm` container's record is gone before its shim says it.
    pub exits: Mutex<HashMap<String, ExitTx>>,
    /// Execs made through the API.
    pub execs: exec::Execs,
    /// The terminal size a client gave at create (`HostConfig.ConsoleSize`), applied when
    /// the container starts, before its first prompt.
    pub console_sizes: Mutex<HashMap<String, (u16, u16)>>,
}

/// How a start hands its stream (and the exit slot) to a client attached before it.
pub type Handover = tokio::sync::oneshot::Sender<(UnixStream, Option<ExitTx>)>;

/// Where the holder of a start's stream puts the container's exit code.
pub type ExitTx = tokio::sync::watch::Sender<Option<i32>>;

impl Service {
    /// Whether this service is starting container `id` now.
    pub fn starting(&self, id: &str) -> bool {
        self.starting.lock().unwrap_or_else(|e| e.into_inner()).contains(id)
    }

    /// A fresh exit slot for a start of container `id`.
    pub fn exit_slot(&self, id: &str) -> ExitTx {
        let (tx, _) = tokio::sync::watch::channel(None);
        self.exits.lock().unwrap_or_else(|e| e.into_inner()).insert(id.to_owned(), tx.clone());
        tx
    }

    /// The exit code of the last start of `id`, once known.
    pub fn exit_of(&self, id: &str) -> Option<tokio::sync::watch::Receiver<Option<i32>>> {
        self.exits.lock().unwrap_or_else(|e| e.into_inner()).get(id).map(|tx| tx.subscribe())
    }
}

/// Open connections (hijacked ones included) and the moment the last one ended: the
/// service is idle when none is open.
#[derive(Debug)]
pub struct Activity {
    open: AtomicUsize,
    last: Mutex<Instant>,
}

impl Activity {
    fn new() -> Activity {
        Activity { open: AtomicUsize::new(0), last: Mutex::new(Instant::now()) }
    }

    /// Marks one connection (or hijacked stream) open until the guard is dropped.
    pub fn busy(self: &Arc<Self>) -> Busy {
        self.open.fetch_add(1, Ordering::SeqCst);
        Busy(self.clone())
    }

    /// How long nothing has been open; `None` while something is.
    fn idle_for(&self) -> Option<Duration> {
        let last = *self.last.lock().unwrap_or_else(|e| e.into_inner());
        (self.open.load(Ordering::SeqCst) == 0).then(|| last.elapsed())
    }
}

/// An open connection (see [`Activity::busy`]).
#[derive(Debug)]
pub struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        *self.0.last.lock().unwrap_or_else(|e| e.into_inner()) = Instant::now();
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Serves the API on `listener` until `idle` passes with no connection open (never with
/// `None`).
pub fn serve(engine: Engine, listener: Listener, idle: Option<Duration>) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        // Each streaming request (logs -f, attach, wait) holds one blocking thread.
        .max_blocking_threads(512)
        .thread_keep_alive(Duration::from_secs(5))
        .build()?;
    let service = Arc::new(Service {
        engine,
        activity: Arc::new(Activity::new()),
        attach_waiters: Mutex::default(),
        starting: Mutex::default(),
        exits: Mutex::default(),
        execs: Mutex::default(),
        console_sizes: Mutex::default(),
    });
    let result = runtime.block_on(accept_loop(listener, service, idle));
    // Blocking tasks left (a follower whose client vanished notices on its next write).
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

async fn accept_loop(listener: Listener, service: Arc<Service>, idle: Option<Duration>) -> std::io::Result<()> {
    let activity = service.activity.clone();
    let listener = listener.into_tokio()?;
    let tick = Duration::from_millis(200);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok(stream) => stream,
                    // EMFILE and friends: keep serving the connections we have.
                    Err(_) => { tokio::time::sleep(Duration::from_millis(50)).await; continue; }
                };
                let busy = activity.busy();
                let service = service.clone();
                tokio::spawn(async move {
                    let _busy = busy;
                    match stream {
                        listen::Stream::Unix(s) => {
                            let fd = rustix::io::fcntl_dupfd_cloexec(&s, 0).ok().map(|fd| hijack::ClientFd(Arc::new(fd)));
                            connection(TokioIo::new(s), service, fd, false, false).await
                        }
                        listen::Stream::Tcp(s) => {
                            // Also a wildcard listener's loopback clients: a page can rebind to them too.
                            let loopback = s.local_addr().is_ok_and(|a| a.ip().to_canonical().is_loopback());
                            connection(TokioIo::new(s), service, None, true, loopback).await
                        }
                    }
                });
            }
            _ = tokio::time::sleep(tick) => {
                // Each tick is a look through /proc (~1 ms): only while something is open
                // or just was, when shims may have ended.
                if activity.idle_for().is_none_or(|d| d < Duration::from_secs(30)) {
                    reaper::reap_shims();
                }
                if let (Some(limit), Some(idle_for)) = (idle, activity.idle_for())
                    && idle_for >= limit
                {
                    return Ok(());
                }
            }
        }
    }
}

/// Serves one connection; `fd`, a unix client's, goes with each request (a hijacked
/// stream tells the client's hang-up by it). On `tcp` a web browser's request is refused,
/// and on a `loopback` TCP connection a request naming another host (see [`rebinding`]).
async fn connection<I>(io: I, service: Arc<Service>, fd: Option<hijack::ClientFd>, tcp: bool, loopback: bool)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let handler = hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
        if let Some(fd) = &fd {
            request.extensions_mut().insert(fd.clone());
        }
        let service = service.clone();
        async move {
            if tcp && rebinding::from_a_browser(request.headers()) {
                let e = error::ApiError::forbidden(
                    "a web browser's request (Origin or Sec-Fetch-* header): refused on a TCP listener (cross-site request)",
                );
                return Ok(router::error_response(&e));
            }
            if loopback && !rebinding::loopback_host_allowed(request.headers().get(hyper::header::HOST)) {
                let e = error::ApiError::forbidden(
                    "Host header names neither an IP address nor localhost: refused on a loopback listener (DNS rebinding)",
                );
                return Ok(router::error_response(&e));
            }
            Ok::<_, std::convert::Infallible>(router::handle(service, request).await)
        }
    });
    let _ = hyper::server::conn::http1::Builder::new()
        // A client that sends its headers slowly (or never) does not hold the service up.
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30))
        .serve_connection(io, handler)
        .with_upgrades()
        .await;
}
