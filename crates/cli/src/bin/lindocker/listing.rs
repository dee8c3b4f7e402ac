//! `--format` of listings (`stats`, `history`), as Docker's CLI reads it: `table` (the
//! default columns), `table TEMPLATE` (its columns under Docker's headers), `json` (one
//! object per line) or a bare template (one line per row, no header).

use serde_json::{Map, Value};

use crate::format;
use crate::template::render_template;

/// One listing: the default `table ...` template and the header of each field.
pub struct Listing {
    /// The `table` template used for `table` or no `--format`.
    pub default: &'static str,
    /// Field name -> column header (`CPUPerc` -> `CPU %`).
    pub headers: &'static [(&'static str, &'static str)],
}

impl Listing {
    /// Prints `rows` (objects of string fields) in `format`. Values from images and
    /// containers are shown with their control characters escaped ([`format::printable`]),
    /// so they can neither drive the terminal nor split a table's columns.
    pub fn print(&self, format: Option<&str>, rows: &[Map<String, Value>]) {
        let rows: Vec<Value> = rows
            .iter()
            .map(|row| {
                Value::Object(
                    row.iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Value::String(s) => Value::String(format::printable(s)),
                                other => other.clone(),
                            };
                            (k.clone(), v)
                        })
                        .collect(),
                )
            })
            .collect();
        let format = match format.map(str::trim) {
            None | Some("" | "table") => self.default,
            Some(f) => f,
        };
        if format == "json" {
            for row in &rows {
                println!("{row}");
            }
            return;
        }
        // Docker takes `\t` and `\n` typed in the shell as a tab and a new line.
        let unescape = |t: &str| t.replace("\\t", "\t").replace("\\n", "\n");
        match format.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                let template = unescape(rest.trim());
                let headers: Map<String, Value> =
                    self.headers.iter().map(|(k, h)| ((*k).to_owned(), Value::String((*h).to_owned()))).collect();
                let mut lines = vec![render_template(&template, &Value::Object(headers))];
                lines.extend(rows.iter().map(|row| render_template(&template, row)));
                let table: Vec<Vec<String>> =
                    lines.iter().map(|l| l.split('\t').map(str::to_owned).collect()).collect();
                format::table(&table);
            }
            _ => {
                let template = unescape(format);
                for row in &rows {
                    println!("{}", render_template(&template, row));
                }
            }
        }
    }
}
