//! Docker's stream formats: the multiplexed stream (an 8-byte header per chunk: stream
//! 1 stdout / 2 stderr, three zero bytes, the length big-endian) used without a
//! terminal, raw bytes with one; and the shim's frames read asynchronously.

use lindocker_engine::attach::Kind;
use tokio::io::{AsyncRead, AsyncReadExt};

/// Which stream a chunk of output belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// stdout (or the terminal).
    Stdout = 1,
    /// stderr.
    Stderr = 2,
}

/// A chunk as the client gets it: raw with a terminal, else with Docker's header.
pub fn chunk(tty: bool, stream: Output, data: &[u8]) -> Vec<u8> {
    if tty {
        return data.to_vec();
    }
    let mut out = Vec::with_capacity(data.len() + 8);
    out.extend_from_slice(&[stream as u8, 0, 0, 0]);
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(data);
    out
}

/// The largest frame taken from a shim (its own limit).
const MAX_FRAME: usize = 16 << 20;

/// Reads one shim frame; `None` at the end.
pub async fn read_frame(r: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<(Kind, Vec<u8>)>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other("frame too large"));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    let kind = match head[0] {
        1 => Kind::Stdout,
        2 => Kind::Stderr,
        3 => Kind::Exit,
        4 => Kind::Error,
        8 => Kind::Started,
        // Client-to-shim kinds never come from a shim; skipped.
        _ => return Ok(Some((Kind::Go, Vec::new()))),
    };
    Ok(Some((kind, payload)))
}

/// A frame's bytes for the shim.
pub fn frame(kind: Kind, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(kind as u8);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexed_header() {
        assert_eq!(chunk(false, Output::Stderr, b"hi"), [2, 0, 0, 0, 0, 0, 0, 2, b'h', b'i']);
        assert_eq!(chunk(true, Output::Stderr, b"hi"), b"hi");
    }
}
