//! Docker parity (issue 13): each module drives `lindocker` as a Docker user would and
//! checks what that user sees (output, exit code, the file or setting inside the
//! container, the limit the kernel enforces).

mod attach_logging;
mod commands;
mod events;
mod extras;
mod health;
mod mounts;
mod ns_resources;
mod readme;
mod templates;
mod tty_cp;
