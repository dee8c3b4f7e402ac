//! A reader in front of the `tar` crate that checks each 512-byte header of a hostile
//! stream before the crate sees it.
//!
//! The crate reads the whole body of a GNU long name or long link (`L`, `K`) and of a
//! PAX header (`x`, `g`) into memory, however large the header says it is, and follows a
//! GNU sparse map (`S`) over as many zero bytes as its real size claims. A tar of a few
//! bytes per gigabyte (or a compressed one) would take all the memory or spin for hours:
//! such headers are refused here, as they pass.

use std::io::{self, Read};

/// The largest body of an `L`, `K`, `x` or `g` header accepted.
pub const MAX_META: u64 = 1 << 20;

/// The largest real size of a GNU sparse file accepted.
pub const MAX_SPARSE: u64 = 1 << 32;

const BLOCK: usize = 512;

/// Passes a tar stream through unchanged, failing at the first header that would make
/// the `tar` crate read an oversized metadata body or an oversized sparse file.
pub struct TarGuard<R> {
    inner: R,
    /// Bytes of the current block collected so far (a header or a sparse extension).
    block: Vec<u8>,
    /// Bytes of entry data (with padding) still to pass before the next header.
    data_left: u64,
    /// The block being collected is a GNU sparse extension, not a header.
    in_extension: bool,
    /// Data bytes to come once the extension blocks are through.
    after_extension: u64,
    /// The body of a PAX `x` header, whose `size` record overrides the next entry's.
    pax: Option<Vec<u8>>,
    /// A size the last PAX header set for the next entry.
    pax_size: Option<u64>,
}

impl<R: Read> TarGuard<R> {
    /// Guards `inner`.
    pub fn new(inner: R) -> Self {
        TarGuard {
            inner,
            block: Vec::with_capacity(BLOCK),
            data_left: 0,
            in_extension: false,
            after_extension: 0,
            pax: None,
            pax_size: None,
        }
    }

    /// Follows `bytes`, the next bytes of the stream.
    fn follow(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.data_left > 0 {
                let n = (self.data_left.min(bytes.len() as u64)) as usize;
                if let Some(pax) = &mut self.pax {
                    pax.extend_from_slice(&bytes[..n]);
                }
                self.data_left -= n as u64;
                bytes = &bytes[n..];
                if self.data_left == 0
                    && let Some(pax) = self.pax.take()
                {
                    self.pax_size = pax_size(&pax);
                }
                continue;
            }
            let n = (BLOCK - self.block.len()).min(bytes.len());
            self.block.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.block.len() == BLOCK {
                let block = std::mem::replace(&mut self.block, Vec::with_capacity(BLOCK));
                if self.in_extension {
                    self.extension(&block);
                } else {
                    self.header(&block)?;
                }
            }
        }
        Ok(())
    }

    fn header(&mut self, h: &[u8]) -> io::Result<()> {
        if h.iter().all(|&b| b == 0) {
            return Ok(()); // end-of-archive blocks
        }
        let kind = h[156];
        let size = number(&h[124..136])?;
        let size = match kind {
            b'x' | b'g' | b'L' | b'K' => size,
            _ => self.pax_size.take().unwrap_or(size),
        };
        if matches!(kind, b'x' | b'g' | b'L' | b'K') && size > MAX_META {
            return Err(refused(format!("a '{}' header of {size} bytes (at most {MAX_META})", char::from(kind))));
        }
        if kind == b'S' {
            let real = number(&h[483..495])?;
            if real > MAX_SPARSE {
                return Err(refused(format!("a sparse file of {real} bytes (at most {MAX_SPARSE})")));
            }
        }
        self.pax = (kind == b'x').then(Vec::new);
        let padded = size.checked_next_multiple_of(BLOCK as u64).ok_or_else(|| refused("an entry size".into()))?;
        if kind == b'S' && h[482] != 0 {
            self.in_extension = true;
            self.after_extension = padded;
        } else {
            self.data_left = padded;
            if padded == 0
                && let Some(pax) = self.pax.take()
            {
                self.pax_size = pax_size(&pax);
            }
        }
        Ok(())
    }

    fn extension(&mut self, block: &[u8]) {
        if block[504] == 0 {
            self.in_extension = false;
            self.data_left = self.after_extension;
        }
    }
}

impl<R: Read> Read for TarGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.follow(&buf[..n])?;
        Ok(n)
    }
}

fn refused(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("refusing {what}"))
}

/// A numeric header field: octal, or base-256 when its top bit is set.
fn number(field: &[u8]) -> io::Result<u64> {
    if field[0] & 0x80 != 0 {
        let mut n: u64 = u64::from(field[0] & 0x7f);
        for &b in &field[1..] {
            n = n.checked_mul(256).and_then(|n| n.checked_add(u64::from(b))).ok_or_else(|| refused("a size".into()))?;
        }
        return Ok(n);
    }
    let text: Vec<u8> = field.iter().copied().skip_while(|&b| b == b' ').take_while(|&b| b != 0 && b != b' ').collect();
    if text.is_empty() {
        return Ok(0);
    }
    let text = std::str::from_utf8(&text).map_err(|_| refused("a size that is not a number".into()))?;
    u64::from_str_radix(text, 8).map_err(|_| refused(format!("the size {text:?}")))
}

/// The `size` record of a PAX header body ("LEN size=N\n" records).
fn pax_size(body: &[u8]) -> Option<u64> {
    let mut rest = body;
    let mut found = None;
    while !rest.is_empty() {
        let space = rest.iter().position(|&b| b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..space]).ok()?.parse().ok()?;
        if len <= space || len > rest.len() {
            return found;
        }
        let record = &rest[space + 1..len];
        if let Some(value) = record.strip_prefix(b"size=") {
            let value = value.strip_suffix(b"\n").unwrap_or(value);
            found = std::str::from_utf8(value).ok()?.parse().ok();
        }
        rest = &rest[len..];
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, size: u64) -> Vec<u8> {
        let mut h = tar::Header::new_gnu();
        h.set_path("x").unwrap();
        h.set_size(size);
        h.set_entry_type(tar::EntryType::new(kind));
        h.set_cksum();
        h.as_bytes().to_vec()
    }

    #[test]
    fn a_long_name_header_over_the_limit_is_refused_before_its_body() {
        let mut stream = header(b'L', 10 << 30);
        stream.extend(std::iter::repeat_n(b'a', 4096));
        let mut out = Vec::new();
        let err = TarGuard::new(&stream[..]).read_to_end(&mut out).unwrap_err();
        assert!(err.to_string().contains("'L' header"), "{err}");
    }

    #[test]
    fn a_sparse_file_larger_than_the_limit_is_refused() {
        let mut h = tar::Header::new_gnu();
        h.set_path("s").unwrap();
        h.set_size(0);
        h.set_entry_type(tar::EntryType::GNUSparse);
        h.as_mut_bytes()[483..495].copy_from_slice(b"77777777777\0");
        h.set_cksum();
        let err = TarGuard::new(h.as_bytes().as_slice()).read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("sparse"), "{err}");
    }

    #[test]
    fn an_ordinary_tar_passes_unchanged() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        b.append_data(&mut h, "a".repeat(200), &b"abc"[..]).unwrap();
        b.append_pax_extensions([("size", &b"3"[..])]).unwrap();
        b.append_data(&mut h, "b", &b"abc"[..]).unwrap();
        let tar = b.into_inner().unwrap();
        let mut out = Vec::new();
        TarGuard::new(&tar[..]).read_to_end(&mut out).unwrap();
        assert_eq!(out, tar);
        let names: Vec<String> = tar::Archive::new(TarGuard::new(&tar[..]))
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2);
    }
}
