//! Blocking `Read` and `Write` over HTTP bodies, for engine calls that take them (`load`
//! reads an archive from the request, `save` writes one to the response): both run in a
//! blocking task, a bounded channel between them and the connection.

use std::io::{self, Read, Write};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::body::Sender;

/// The response body as a `Write`; a write fails once the client has gone.
pub struct BodyWriter {
    sender: Sender,
    buffer: Vec<u8>,
}

/// How much is gathered before a chunk goes out.
const CHUNK: usize = 64 * 1024;

impl BodyWriter {
    /// Writes into `sender`'s body.
    pub fn new(sender: Sender) -> BodyWriter {
        BodyWriter { sender, buffer: Vec::with_capacity(CHUNK) }
    }
}

impl Write for BodyWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buffer));
        if self.sender.send_blocking(chunk) {
            Ok(())
        } else {
            Err(io::Error::new(io::ErrorKind::BrokenPipe, "the client went away"))
        }
    }
}

/// The request body as a `Read` (for a blocking task): fed by a task on the runtime.
pub struct BodyReader {
    rx: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

/// Starts feeding `body` into a reader; call from the runtime.
pub fn reader(mut body: Incoming) -> BodyReader {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        loop {
            match body.frame().await {
                None => break,
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data()
                        && tx.send(Ok(data)).await.is_err()
                    {
                        break;
                    }
                }
                Some(Err(e)) => {
                    let _ = tx.send(Err(io::Error::other(e.to_string()))).await;
                    break;
                }
            }
        }
    });
    BodyReader { rx, current: Bytes::new() }
}

impl Read for BodyReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                None => return Ok(0),
                Some(Ok(data)) => self.current = data,
                Some(Err(e)) => return Err(e),
            }
        }
        let n = out.len().min(self.current.len());
        out[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
