//! Signal names as `kill` accepts them: `TERM`, `SIGTERM`, `15`, `sigterm`, `RTMIN+1`.

use crate::{Error, Result};

const NAMES: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Parses a signal given as a name (with or without `SIG`, any case) or a number.
pub fn parse(text: &str) -> Result<i32> {
    let unknown = || Error::UnknownSignal(text.to_string());
    if let Ok(n) = text.parse::<i32>() {
        return if (1..=64).contains(&n) { Ok(n) } else { Err(unknown()) };
    }
    let upper = text.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = NAMES.iter().find(|(k, _)| *k == name) {
        return Ok(*n);
    }
    let (rtmin, rtmax) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let rt = if let Some(off) = name.strip_prefix("RTMIN") {
        off.strip_prefix('+').map_or(Some(0), |n| n.parse::<i32>().ok()).map(|o| rtmin + o)
    } else if let Some(off) = name.strip_prefix("RTMAX") {
        off.strip_prefix('-').map_or(Some(0), |n| n.parse::<i32>().ok()).map(|o| rtmax - o)
    } else {
        None
    };
    match rt {
        Some(n) if (rtmin..=rtmax).contains(&n) => Ok(n),
        _ => Err(unknown()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_forms_of_term() {
        for t in ["TERM", "SIGTERM", "15", "term", "SigTerm"] {
            assert_eq!(parse(t).unwrap(), libc::SIGTERM, "{t}");
        }
        assert_eq!(parse("KILL").unwrap(), 9);
        assert_eq!(parse("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        for bad in ["", "0", "65", "NOPE", "SIG", "RTMIN+99"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
