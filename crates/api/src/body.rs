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
