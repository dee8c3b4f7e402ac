//! Response bodies: whole (JSON, text) or streamed from a blocking task through a
//! channel, so that a slow client slows only its own producer.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};

/// Every response's body.
pub type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::io::Error>;

/// A whole body.
pub fn full(data: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(data.into()).map_err(|never| match never {}).boxed_unsync()
}

/// No body.
pub fn empty() -> Body {
    full(Bytes::new())
}

/// The sending side of a streamed body; each chunk waits for room (a bounded channel),
/// so a producer never runs ahead of a slow client by more than a few chunks.
#[derive(Debug, Clone)]
pub struct Sender(tokio::sync::mpsc::Sender<Bytes>);

impl Sender {
    /// Sends a chunk from a blocking task; `false` once the client is gone.
    pub fn send_blocking(&self, data: impl Into<Bytes>) -> bool {
        self.0.blocking_send(data.into()).is_ok()
    }

    /// Sends a chunk from async code; `false` once the client is gone.
    pub async fn send(&self, data: impl Into<Bytes>) -> bool {
        self.0.send(data.into()).await.is_ok()
    }

    /// Resolves once the client went away (the body was dropped).
    pub async fn closed(&self) {
        self.0.closed().await
    }

    /// Whether the client went away (the body was dropped).
    pub fn is_closed(&self) -> bool {
        self.0.is_closed()
    }
}

/// A body fed by a [`Sender`]; it ends when every sender is dropped.
pub fn channel() -> (Sender, Body) {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    (Sender(tx), ChannelBody(rx).boxed_unsync())
}

struct ChannelBody(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|data| Ok(Frame::data(data))))
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// Runs `f`, which lasts as long as its client (a log follower, a stats stream, a wait,
/// an archive read from or written to a slow client), on a thread of its own: tokio's
/// blocking pool (512 threads) is for the short engine calls every request makes, and a
/// few hundred live streams would take all of it, every other client's requests queued
/// behind them. The answer comes through the receiver (gone if no thread could start).
pub fn spawn_long<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> tokio::sync::oneshot::Receiver<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // A failed spawn drops the closure, and with it `tx`: the receiver hears of it.
    let _ = std::thread::Builder::new().name("api-stream".into()).spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// A `Write` for a blocking task that streams into a response body in 64 kB chunks.
#[derive(Debug)]
pub struct ChunkWriter {
    tx: Sender,
    buf: Vec<u8>,
}

impl ChunkWriter {
    /// Writes into `tx`.
    pub fn new(tx: Sender) -> ChunkWriter {
        ChunkWriter { tx, buf: Vec::with_capacity(64 * 1024) }
    }
}

impl std::io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 64 * 1024 {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() && !self.tx.send_blocking(std::mem::take(&mut self.buf)) {
            return Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away"));
        }
        Ok(())
    }
}

/// A `Read` for a blocking task over a request's body, fed by an async task (a few
/// chunks ahead at most).
#[derive(Debug)]
pub struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
    current: Bytes,
}

impl BodyReader {
    /// Starts reading `body` (call inside the runtime).
    pub fn new(body: hyper::body::Incoming) -> BodyReader {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tokio::spawn(async move {
            let mut body = body;
            loop {
                let sent = match body.frame().await {
                    None => break,
                    Some(Ok(frame)) => match frame.into_data() {
                        Ok(data) => tx.send(Ok(data)).await,
                        Err(_) => continue,
                    },
                    Some(Err(e)) => tx.send(Err(std::io::Error::other(e))).await,
                };
                if sent.is_err() {
                    break;
                }
            }
        });
        BodyReader { rx, current: Bytes::new() }
    }
}

impl std::io::Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(data)) => self.current = data,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current[..n]);
        bytes::Buf::advance(&mut self.current, n);
        Ok(n)
    }
}
