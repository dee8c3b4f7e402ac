//! Go's text/template, as Docker's `--format` and `inspect -f` use it: actions (`if`,
//! `else if`, `range` with `$i, $v :=` and `else`, `with`, `define`/`template`/`block`,
//! `break`/`continue`), variables, pipelines, parentheses, comments, trim markers; Go's
//! builtin functions and Docker's (`json`, `join`, `split`, `lower`, `upper`, `title`,
//! `truncate`, `pad`). Errors read as Go's (`template: :1:8: executing "" at <.A.B>: ...`).
//!
//! Kept free of the rest of the CLI (it needs only `serde_json`) so the fuzz target under
//! `fuzz/` can build it on its own.

mod exec;
mod funcs;
mod lex;
mod parse;
mod value;

use std::fmt;

pub use value::{Kind, Schema, Val};

/// A template error: at parse time (line only, as Go) or while executing (line, column
/// and the node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The template does not parse.
    Parse { line: usize, msg: String },
    /// The template failed on the data.
    Exec { line: usize, col: usize, context: String, msg: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse { line, msg } => write!(f, "template: :{line}: {msg}"),
            Error::Exec { line, col, context, msg } => {
                write!(f, "template: :{line}:{col}: executing \"\" at <{context}>: {msg}")
            }
        }
    }
}

impl std::error::Error for Error {}

/// A parsed template.
#[derive(Debug, Clone)]
pub struct Template {
    tree: parse::Tree,
    text: String,
}

impl Template {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Template, Error> {
        Ok(Template { tree: parse::parse(text, &funcs::NAMES)?, text: text.to_owned() })
    }

    /// Runs the template over `data`.
    pub fn execute(&self, data: &Val) -> Result<String, Error> {
        let (out, result) = exec::execute(&self.tree, &self.text, data, false);
        result.map(|()| out)
    }

    /// A table's header: the template run over the header names with Docker's header
    /// functions (`upper`, `json`, ... return the name); as far as it gets on an error.
    pub fn execute_header(&self, names: &Val) -> String {
        exec::execute(&self.tree, &self.text, names, true).0
    }
}

/// Renders `template` over JSON whose objects are structs (a missing field is an error).
#[allow(dead_code)] // the fuzz target's entry point
pub fn render_template(template: &str, value: &serde_json::Value) -> Result<String, Error> {
    Template::parse(template)?.execute(&Val::from_json(value, &[]))
}

#[cfg(test)]
mod tests;
