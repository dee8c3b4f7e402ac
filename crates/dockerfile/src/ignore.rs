//! `.dockerignore`: Docker's pattern rules (Go's `filepath.Match` plus `**`, `!`
//! exceptions, the last matching pattern wins, paths cleaned, a leading `/` ignored).

/// A parsed `.dockerignore`.
#[derive(Debug, Clone, Default)]
pub struct Ignore {
    _private: (),
}

impl Ignore {
    /// Parses the file's text (comments `#`, blank lines, surrounding spaces ignored).
    pub fn parse(text: &str) -> Result<Ignore, crate::ParseError> {
        let _ = text;
        Err(crate::ParseError { line: 0, message: ".dockerignore is not parsed yet".into() })
    }

    /// Whether the context path `path` (relative, `/`-separated) is excluded.
    pub fn excludes(&self, path: &str) -> bool {
        let _ = path;
        false
    }

    /// Whether a directory that is excluded may still hold a file an exception (`!`)
    /// brings back, so a walk must descend into it.
    pub fn may_include_below(&self, dir: &str) -> bool {
        let _ = dir;
        true
    }
}
