//! How sizes and times read in tables, as Docker writes them.

use std::time::{Duration, SystemTime};

/// Bytes in decimal units with three significant digits: `4.26MB`, `512B`.
pub fn size(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let text = if unit == 0 {
        format!("{bytes}")
    } else {
        let digits = if value < 10.0 {
            2
        } else if value < 100.0 {
            1
        } else {
            0
        };
        let text = format!("{value:.digits$}");
        if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.').to_owned() } else { text }
    };
    format!("{text}{}", UNITS[unit])
}

/// How long ago an RFC 3339 time was: `2 weeks ago`, `About a minute ago`.
pub fn ago(rfc3339: Option<&str>) -> String {
    let Some(then) = rfc3339
        .and_then(|t| humantime::parse_rfc3339_weak(t.split('.').next().unwrap_or(t).trim_end_matches('Z')).ok())
    else {
        return "N/A".into();
    };
    let elapsed = SystemTime::now().duration_since(then).unwrap_or(Duration::ZERO);
    format!("{} ago", duration(elapsed))
}

/// A duration the way Docker's `ps` and `images` show it.
pub use lindocker_engine::listing::human_duration as duration;

/// `text` with its control characters (C0, DEL, C1: terminal escapes, new lines) shown
/// as escapes: values from images and containers must not drive the admin's terminal.
pub fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars().map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() }).collect()
}

/// Prints rows as left-aligned columns three spaces apart, as Docker's tables; control
/// characters in cells are escaped ([`printable`]).
#[allow(dead_code)] // listings go through crate::formatter now; kept for fixed tables
pub fn table(rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| printable(c)).collect()).collect();
    let rows = &rows;
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|r| r.get(c)).map(|s| s.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[c]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    print!("{out}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(printable("sh -c 'echo hi'"), "sh -c 'echo hi'");
        assert_eq!(printable("a\u{1b}[2J\r\nb\u{9b}"), "a\\u{1b}[2J\\r\\nb\\u{9b}");
    }

    #[test]
    fn sizes_like_docker() {
        assert_eq!(size(512), "512B");
        assert_eq!(size(4_261_000), "4.26MB");
        assert_eq!(size(1_000_000), "1MB");
        assert_eq!(size(123_456_789), "123MB");
    }
}
