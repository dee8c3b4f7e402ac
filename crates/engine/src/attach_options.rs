//! What a client attaches to and how it lets go: the streams of `-a stdin|stdout|stderr`
//! and the detach keys of `--detach-keys` (Docker's syntax, matched as Docker's daemon
//! matches them in what the client types).

use serde::{Deserialize, Serialize};

use crate::EngineError;

/// The streams an attached client takes part in (`-a`; stdout and stderr without it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachStreams {
    /// Input goes to the container.
    pub stdin: bool,
    /// The container's stdout (or its terminal) comes out.
    pub stdout: bool,
    /// The container's stderr comes out.
    pub stderr: bool,
}

impl Default for AttachStreams {
    fn default() -> Self {
        AttachStreams { stdin: false, stdout: true, stderr: true }
    }
}

impl AttachStreams {
    /// The streams of `-a` values (case-insensitive, as Docker); none given: stdout and
    /// stderr; `interactive` (`-i`) attaches stdin too.
    pub fn parse(values: &[String], interactive: bool) -> Result<AttachStreams, EngineError> {
        let mut streams = if values.is_empty() {
            AttachStreams::default()
        } else {
            AttachStreams { stdin: false, stdout: false, stderr: false }
        };
        for value in values {
            match value.to_ascii_lowercase().as_str() {
                "stdin" => streams.stdin = true,
                "stdout" => streams.stdout = true,
                "stderr" => streams.stderr = true,
                _ => {
                    return Err(EngineError::BadOption {
                        option: "--attach".into(),
                        value: value.clone(),
                        reason: "valid streams are STDIN, STDOUT and STDERR".into(),
                    });
                }
            }
        }
        streams.stdin |= interactive;
        Ok(streams)
    }

    /// Whether any stream is attached.
    pub fn any(self) -> bool {
        self.stdin || self.stdout || self.stderr
    }
}

/// Docker's default detach sequence, Ctrl-P Ctrl-Q.
pub const DEFAULT_DETACH_KEYS: &[u8] = &[0x10, 0x11];

/// The bytes of a `--detach-keys` spec: comma-separated keys, each a single character or
/// `ctrl-<value>` with `<value>` one of `a-z @ [ \ ] ^ _` (case-insensitive). An empty
/// spec is the default.
pub fn parse_detach_keys(spec: &str) -> Result<Vec<u8>, EngineError> {
    if spec.is_empty() {
        return Ok(DEFAULT_DETACH_KEYS.to_vec());
    }
    let bad = |reason: String| EngineError::BadOption {
        option: "--detach-keys".into(),
        value: spec.into(),
        reason: format!("Invalid detach keys ({spec}) provided: {reason}"),
    };
    let mut keys = Vec::new();
    for key in spec.split(',') {
        let bytes = key.as_bytes();
        if bytes.len() == 1 {
            keys.push(bytes[0]);
            continue;
        }
        let lower = key.to_ascii_lowercase();
        let code = match lower.strip_prefix("ctrl-").map(str::as_bytes) {
            Some([c @ b'a'..=b'z']) => c - b'a' + 1,
            Some([b'@']) => 0,
            Some([c @ (b'[' | b'\\' | b']' | b'^' | b'_')]) => c - b'@',
            _ => return Err(bad(format!("unknown key '{key}'"))),
        };
        keys.push(code);
    }
    Ok(keys)
}

/// Watches typed bytes for a detach sequence. Bytes that may start it are held back
/// until it is complete (detach) or broken (they are passed on after all).
#[derive(Debug, Clone)]
pub struct DetachMatcher {
    keys: Vec<u8>,
    held: usize,
}

impl DetachMatcher {
    /// A matcher for `keys` (from [`parse_detach_keys`]; never empty).
    pub fn new(keys: Vec<u8>) -> DetachMatcher {
        let keys = if keys.is_empty() { DEFAULT_DETACH_KEYS.to_vec() } else { keys };
        DetachMatcher { keys, held: 0 }
    }

    /// Feeds typed bytes; returns the bytes to pass on and whether to detach (what
    /// follows the sequence is dropped).
    pub fn feed(&mut self, input: &[u8]) -> (Vec<u8>, bool) {
        let mut out = Vec::with_capacity(input.len());
        for &b in input {
            if b != self.keys[self.held] && self.held > 0 {
                out.extend_from_slice(&self.keys[..self.held]);
                self.held = 0;
            }
            if b == self.keys[self.held] {
                self.held += 1;
                if self.held == self.keys.len() {
                    self.held = 0;
                    return (out, true);
                }
            } else {
                out.push(b);
            }
        }
        (out, false)
    }
}

impl Default for DetachMatcher {
    fn default() -> Self {
        DetachMatcher::new(DEFAULT_DETACH_KEYS.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_key_syntax() {
        assert_eq!(parse_detach_keys("").unwrap(), [0x10, 0x11]);
        assert_eq!(parse_detach_keys("ctrl-p,ctrl-q").unwrap(), [0x10, 0x11]);
        assert_eq!(parse_detach_keys("CTRL-A,x").unwrap(), [0x01, b'x']);
        assert_eq!(parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").unwrap(), [0, 27, 28, 29, 30, 31]);
        assert!(parse_detach_keys(",").unwrap_err().to_string().contains("Invalid detach keys"));
        for bad in ["ctrl-1", "ctrl-", "ab", "ctrl-p,,", "ctrl-pp", "ctrl-é"] {
            assert!(parse_detach_keys(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_sequence_detaches_and_a_broken_one_passes_on() {
        let mut m = DetachMatcher::default();
        assert_eq!(m.feed(b"ls\x10"), (b"ls".to_vec(), false));
        assert_eq!(m.feed(b"\x11rest"), (Vec::new(), true));
        let mut m = DetachMatcher::default();
        assert_eq!(m.feed(b"\x10a"), (b"\x10a".to_vec(), false));
        assert_eq!(m.feed(b"\x10\x10\x11"), (b"\x10".to_vec(), true));
        let mut m = DetachMatcher::new(parse_detach_keys("a,b,c").unwrap());
        assert_eq!(m.feed(b"xaby"), (b"xaby".to_vec(), false));
        assert_eq!(m.feed(b"aab"), (b"a".to_vec(), false));
        assert_eq!(m.feed(b"c"), (Vec::new(), true));
    }

    #[test]
    fn streams() {
        let s = |v: &[&str], i| AttachStreams::parse(&v.iter().map(|x| x.to_string()).collect::<Vec<_>>(), i);
        assert_eq!(s(&[], false).unwrap(), AttachStreams { stdin: false, stdout: true, stderr: true });
        assert_eq!(s(&[], true).unwrap(), AttachStreams { stdin: true, stdout: true, stderr: true });
        assert_eq!(s(&["STDERR"], false).unwrap(), AttachStreams { stdin: false, stdout: false, stderr: true });
        assert!(s(&["stdio"], false).unwrap_err().to_string().contains("valid streams are STDIN, STDOUT and STDERR"));
    }
}
