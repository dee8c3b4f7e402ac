//! The conversation between a shim and the CLIs attached to it, over a unix socket:
//! frames of `[kind: u8][length: u32 big-endian][payload]`.

use std::io::{self, Read, Write};

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// Shim → client: container output on stdout (or the terminal).
    Stdout = 1,
    /// Shim → client: container output on stderr.
    Stderr = 2,
    /// Shim → client: the container ended; payload is the exit code in decimal.
    Exit = 3,
    /// Shim → client: the container could not start; payload is the message, then an
    /// `Exit` frame follows.
    Error = 4,
    /// Client → shim: input for the container.
    Stdin = 5,
    /// Client → shim: no more input.
    StdinClose = 6,
    /// Client → shim: the terminal's size, rows and columns as two u16.
    Resize = 7,
    /// Shim → client: the container's process runs.
    Started = 8,
    /// Client → shim: the container exists now, start it. The first frame of the CLI
    /// that started the shim (see `Engine::spawn_shim`).
    Go = 9,
}

impl Kind {
    fn from_byte(b: u8) -> Option<Kind> {
        Some(match b {
            1 => Kind::Stdout,
            2 => Kind::Stderr,
            3 => Kind::Exit,
            4 => Kind::Error,
            5 => Kind::Stdin,
            6 => Kind::StdinClose,
            7 => Kind::Resize,
            8 => Kind::Started,
            9 => Kind::Go,
            _ => return None,
        })
    }
}

/// The largest payload a frame may carry.
const MAX_FRAME: usize = 16 << 20;

/// Writes one frame.
pub fn write_frame(mut w: impl Write, kind: Kind, payload: &[u8]) -> io::Result<()> {
    let mut frame = Vec::with_capacity(payload.len() + 5);
    frame.push(kind as u8);
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    w.write_all(&frame)
}

/// Reads one frame; `None` at the end of the stream.
pub fn read_frame(mut r: impl Read) -> io::Result<Option<(Kind, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let kind = Kind::from_byte(head[0]).ok_or_else(|| io::Error::other(format!("unknown frame kind {}", head[0])))?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(io::Error::other("frame too large"));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((kind, payload)))
}

/// What a client sent, as the shim acts on it.
#[derive(Debug, PartialEq, Eq)]
pub enum Input<'a> {
    /// Bytes for the container's stdin (a piece of a `Stdin` frame).
    Stdin(&'a [u8]),
    /// No more input.
    StdinClose,
    /// The client's terminal size.
    Resize {
        /// Rows.
        rows: u16,
        /// Columns.
        cols: u16,
    },
}

/// Reads a client's frames from bytes that arrive in pieces (a non-blocking socket),
/// holding no more than a frame header: a `Stdin` payload is passed on as it comes, so
/// a client can neither hold the shim in a read nor make it buffer a whole frame.
#[derive(Debug)]
pub struct FrameParser {
    head: [u8; 5],
    have: usize,
    kind: Kind,
    remaining: usize,
    small: [u8; 4],
    small_len: usize,
}

impl Default for FrameParser {
    fn default() -> FrameParser {
        FrameParser { head: [0; 5], have: 0, kind: Kind::Stdin, remaining: 0, small: [0; 4], small_len: 0 }
    }
}

impl FrameParser {
    /// Feeds `data`, calling `on` for what it completes; an error for a frame no client
    /// sends (unknown kind, too large).
    pub fn feed<'a>(&mut self, mut data: &'a [u8], mut on: impl FnMut(Input<'a>)) -> io::Result<()> {
        while !data.is_empty() {
            if self.have < 5 {
                let n = (5 - self.have).min(data.len());
                self.head[self.have..self.have + n].copy_from_slice(&data[..n]);
                self.have += n;
                data = &data[n..];
                if self.have < 5 {
                    break;
                }
                self.kind = Kind::from_byte(self.head[0])
                    .ok_or_else(|| io::Error::other(format!("unknown frame kind {}", self.head[0])))?;
                self.remaining = u32::from_be_bytes([self.head[1], self.head[2], self.head[3], self.head[4]]) as usize;
                if self.remaining > MAX_FRAME {
                    return Err(io::Error::other("frame too large"));
                }
                self.small_len = 0;
                if self.remaining == 0 {
                    self.finish(&mut on);
                }
                continue;
            }
            let (chunk, rest) = data.split_at(self.remaining.min(data.len()));
            data = rest;
            self.remaining -= chunk.len();
            if self.kind == Kind::Stdin {
                on(Input::Stdin(chunk));
            } else {
                let n = chunk.len().min(4 - self.small_len);
                self.small[self.small_len..self.small_len + n].copy_from_slice(&chunk[..n]);
                self.small_len += n;
            }
            if self.remaining == 0 {
                self.finish(&mut on);
            }
        }
        Ok(())
    }

    fn finish<'a>(&mut self, on: &mut impl FnMut(Input<'a>)) {
        match self.kind {
            Kind::StdinClose => on(Input::StdinClose),
            Kind::Resize if self.small_len == 4 => on(Input::Resize {
                rows: u16::from_be_bytes([self.small[0], self.small[1]]),
                cols: u16::from_be_bytes([self.small[2], self.small[3]]),
            }),
            _ => {}
        }
        self.have = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut buf = Vec::new();
        write_frame(&mut buf, Kind::Stdout, b"hello").unwrap();
        write_frame(&mut buf, Kind::Exit, b"3").unwrap();
        let mut r = buf.as_slice();
        assert_eq!(read_frame(&mut r).unwrap(), Some((Kind::Stdout, b"hello".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), Some((Kind::Exit, b"3".to_vec())));
        assert_eq!(read_frame(&mut r).unwrap(), None);
    }

    #[test]
    fn frames_parse_from_any_pieces() {
        let mut bytes = Vec::new();
        write_frame(&mut bytes, Kind::Stdin, b"hello").unwrap();
        write_frame(&mut bytes, Kind::Resize, &[0, 24, 0, 80]).unwrap();
        write_frame(&mut bytes, Kind::Go, b"ignored").unwrap();
        write_frame(&mut bytes, Kind::Stdin, b"").unwrap();
        write_frame(&mut bytes, Kind::StdinClose, b"").unwrap();
        for size in [1, 2, 3, 5, 7, bytes.len()] {
            let mut parser = FrameParser::default();
            let (mut input, mut events) = (Vec::new(), Vec::new());
            for piece in bytes.chunks(size) {
                parser
                    .feed(piece, |i| match i {
                        Input::Stdin(d) => input.extend_from_slice(d),
                        other => events.push(format!("{other:?}")),
                    })
                    .unwrap();
            }
            assert_eq!(input, b"hello", "pieces of {size}");
            assert_eq!(events, ["Resize { rows: 24, cols: 80 }", "StdinClose"], "pieces of {size}");
        }
        let mut parser = FrameParser::default();
        assert!(parser.feed(&[77, 0, 0, 0, 0], |_| {}).is_err());
        let mut parser = FrameParser::default();
        assert!(parser.feed(&[5, 0xff, 0xff, 0xff, 0xff], |_| {}).is_err());
    }
}
