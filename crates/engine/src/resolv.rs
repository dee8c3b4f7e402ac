//! The container's `/etc/resolv.conf`: name servers (`--dns`, or the host's), search
//! domains (`--dns-search`) and resolver options (`--dns-option`), as Docker writes it.
//! Every value is checked where it enters: one word of a fixed alphabet, so no flag can
//! add a line (a `nameserver` of its choosing) to the file.

use crate::EngineError;

/// `--dns-search`: a domain name (RFC 1123 labels), or `.` (Docker's "no search
/// domains").
pub fn parse_search(value: &str) -> Result<String, EngineError> {
    if value == "." || (crate::options::is_hostname(value.trim_end_matches('.')) && value.len() <= 253) {
        Ok(value.to_owned())
    } else {
        Err(EngineError::BadOption {
            option: "--dns-search".into(),
            value: value.into(),
            reason: "not a domain name".into(),
        })
    }
}

/// `--dns-option`: one resolver option (`ndots:2`, `rotate`, `timeout:3`): letters,
/// digits and `:_-.`, nothing else.
pub fn parse_option(value: &str) -> Result<String, EngineError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'_' | b'-' | b'.'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(EngineError::BadOption {
            option: "--dns-option".into(),
            value: value.into(),
            reason: "a resolver option is one word like ndots:2 or rotate".into(),
        })
    }
}

/// The file's text: `base` (the host's file without loopback servers, when no `--dns`
/// was given), or the `--dns` servers; `search` and `options` lines replaced by the
/// flags' when given (as Docker does).
pub fn render(base: &str, dns: &[String], search: &[String], options: &[String]) -> String {
    let mut out = String::new();
    for line in base.lines() {
        let word = line.split_whitespace().next().unwrap_or("");
        let replaced = (!dns.is_empty() && word == "nameserver")
            || (!search.is_empty() && (word == "search" || word == "domain"))
            || (!options.is_empty() && word == "options");
        if !replaced {
            out.push_str(line);
            out.push('\n');
        }
    }
    for d in dns {
        out.push_str(&format!("nameserver {d}\n"));
    }
    let search: Vec<&str> = search.iter().map(String::as_str).filter(|s| *s != ".").collect();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        assert!(parse_search("example.com").is_ok());
        assert!(parse_search("example.com.").is_ok());
        assert!(parse_search(".").is_ok());
        for bad in ["a.com\nnameserver 6.6.6.6", "a b", "", "-a.com", "a..b"] {
            assert!(parse_search(bad).is_err(), "{bad:?}");
        }
        assert!(parse_option("ndots:2").is_ok());
        assert!(parse_option("rotate").is_ok());
        for bad in ["ndots:1\nnameserver 6.6.6.6", "a b", "", "x\r"] {
            assert!(parse_option(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn file() {
        let base = "nameserver 10.0.0.1\nsearch host.lan\noptions edns0\n";
        assert_eq!(render(base, &[], &[], &[]), base);
        assert_eq!(
            render(base, &["192.0.2.1".into()], &["a.example".into(), "b".into()], &["ndots:2".into()]),
            "nameserver 192.0.2.1\nsearch a.example b\noptions ndots:2\n"
        );
        assert_eq!(render(base, &[], &[".".into()], &[]), "nameserver 10.0.0.1\noptions edns0\n");
    }
}
