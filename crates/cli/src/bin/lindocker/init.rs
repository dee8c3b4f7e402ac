//! `--init`: our own binary, bind-mounted at /dev/init, runs as the container's PID 1:
//! it starts the command, passes on the signals it gets, reaps orphans, and exits with
//! the command's code (what tini does for Docker).

use std::process::Command;

/// Runs `args` under a minimal init; never returns.
pub fn main(args: &[String]) -> ! {
    let Some((program, rest)) = args.split_first() else {
        eprintln!("init: no command given");
        std::process::exit(127);
    };
    let child = match Command::new(program).args(rest).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("init: {program}: {e}");
            std::process::exit(if e.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 });
        }
    };
    let pid = child.id() as i32;
    // Signals arriving before this are ignored by the kernel for a PID 1 without handlers.
    if lindocker_sys::block_all_signals().is_err() {
        std::process::exit(125);
    }
    loop {
        // Reap whatever has ended; the command's end ends us.
        while let Ok(Some((reaped, status))) = rustix::process::wait(rustix::process::WaitOptions::NOHANG) {
            if reaped.as_raw_nonzero().get() == pid {
                let code = status.exit_status().unwrap_or_else(|| 128 + status.terminating_signal().unwrap_or(0));
                std::process::exit(code);
            }
        }
        let Ok(sig) = lindocker_sys::wait_for_signal() else { std::process::exit(125) };
        if sig != 17
            && let (Some(p), Some(s)) = (rustix::process::Pid::from_raw(pid), signal_from(sig))
        {
            let _ = rustix::process::kill_process(p, s);
        }
    }
}

fn signal_from(sig: i32) -> Option<rustix::process::Signal> {
    rustix::process::Signal::from_named_raw(sig)
}
