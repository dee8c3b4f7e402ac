//! Variable expansion and quote removal, as BuildKit's shell lexer does it for the
//! instructions that expand (`ADD COPY ENV EXPOSE FROM LABEL STOPSIGNAL USER VOLUME
//! WORKDIR` and flag values): `$VAR`, `${VAR}`, `${VAR:-word}`, `${VAR-word}`,
//! `${VAR:+word}`, `${VAR+word}`, `${VAR:?msg}`, single and double quotes, the escape
//! character. `RUN`, `CMD` and `ENTRYPOINT` are not expanded by the builder (the shell
//! does it), except heredoc bodies with an unquoted delimiter.

use crate::ExpandError;

/// The values in scope: a lookup from name to value.
pub trait Vars {
    /// The value of `name`, or None when unset.
    fn get(&self, name: &str) -> Option<&str>;
}

/// Expands one word: variables substituted, quotes and escapes removed, no splitting.
pub fn word(text: &str, vars: &dyn Vars, escape: char) -> Result<String, ExpandError> {
    let _ = (vars, escape);
    Err(ExpandError { word: text.into(), message: "expansion is not written yet".into() })
}

/// Expands and splits on unquoted whitespace (e.g. `EXPOSE $PORTS`), each word
/// expanded as by [`word`].
pub fn words(text: &str, vars: &dyn Vars, escape: char) -> Result<Vec<String>, ExpandError> {
    let _ = (vars, escape);
    Err(ExpandError { word: text.into(), message: "expansion is not written yet".into() })
}
