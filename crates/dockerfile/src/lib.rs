//! The Dockerfile language as Docker documents it: [`parse`] turns the text into typed
//! [`ast`] instructions (directives, continuations, heredocs, flags and JSON forms
//! handled), [`expand`] substitutes build arguments and environment variables the way
//! BuildKit's shell lexer does, and [`ignore`] matches `.dockerignore` patterns.
//!
//! Nothing here touches the file system: the builder (in the engine) decides what a
//! parsed instruction does. Values stay as written (quotes and `$VAR` included) until
//! the builder expands them with the variables in scope at that step.

pub mod ast;
pub mod expand;
pub mod ignore;
mod parse;

pub use ast::Dockerfile;
pub use parse::{HeredocRun, go_duration, heredoc_run, onbuild_expression, parse, parse_trigger, ram_in_bytes};

/// A Dockerfile that does not follow the grammar, with the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Dockerfile parse error on line {line}: {message}")]
pub struct ParseError {
    /// 1-based line of the instruction (its first line when continued).
    pub line: usize,
    /// What is wrong, in Docker's words where Docker has some.
    pub message: String,
}

/// A word whose variables cannot be expanded (a bad `${...}`, a `${VAR:?message}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("failed to process {word:?}: {message}")]
pub struct ExpandError {
    /// The word as written.
    pub word: String,
    /// Why it failed.
    pub message: String,
}
