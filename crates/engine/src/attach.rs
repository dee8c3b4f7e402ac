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
    if len > 16 << 20 {
        return Err(io::Error::other("frame too large"));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload)?;
    Ok(Some((kind, payload)))
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
}
