//! `lindocker events` (and `system events`): the engine's event journal, filtered,
//! printed as Docker prints it; followed live unless `--until` ends it.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use lindocker_engine::events::{Event, EventQuery, Journal, format_time};

use crate::{Cli, Failure};

/// `lindocker events` flags.
#[derive(Debug, clap::Args)]
pub struct EventsArgs {
    /// Show events created since this time (RFC 3339, unix seconds, or a duration like 10m).
    #[arg(long, allow_hyphen_values = true)]
    since: Option<String>,
    /// Stream events until this time, then exit.
    #[arg(long, allow_hyphen_values = true)]
    until: Option<String>,
    /// Filter (container=, image=, event=, type=, label=, network=, volume=); repeatable.
    #[arg(short, long = "filter")]
    filter: Vec<String>,
    /// `json`, or a Go template over each event (`{{.Action}} {{.Actor.ID}}`).
    #[arg(long)]
    format: Option<String>,
}

/// How often the journal is looked at while following it.
const POLL: Duration = Duration::from_millis(100);

/// Runs `events`: prints matching stored events (with `--since`/`--until`), then new ones
/// as they come, until `--until` passes or we are interrupted.
pub fn events(cli: &Cli, a: &EventsArgs) -> Result<u8> {
    let bad = |e: String| Failure::new(125, e);
    let query = EventQuery::parse(a.since.as_deref(), a.until.as_deref(), &a.filter)
        .map_err(|e| bad(if e.starts_with("since") || e.starts_with("until") { format!("--{e}") } else { e }))?;
    // A bad template is refused before anything is followed.
    let template = match a.format.as_deref().map(str::trim) {
        None | Some("" | "json" | "{{json .}}") => None,
        Some(t) => Some(crate::template::Template::parse(t).map_err(|e| bad(format!("template parsing error: {e}")))?),
    };
    let mut stream = Journal::open(&cli.root).stream(query);
    let stdout = std::io::stdout();
    loop {
        let mut out = stdout.lock();
        for event in stream.next_batch() {
            // A closed stdout ends us (SIGPIPE, see `crate::broken_pipe`).
            let line = render(&event, a.format.as_deref(), template.as_ref())
                .map_err(|e| bad(format!("template parsing error: {e}")))?;
            if out.write_all(line.as_bytes()).is_err() {
                crate::broken_pipe();
            }
        }
        if out.flush().is_err() {
            crate::broken_pipe();
        }
        drop(out);
        if stream.finished() {
            return Ok(0);
        }
        std::thread::sleep(POLL);
    }
}

/// One event as Docker's CLI prints it: its text line, its JSON, or the template's text.
fn render(
    event: &Event,
    format: Option<&str>,
    template: Option<&crate::template::Template>,
) -> Result<String, crate::template::Error> {
    match format.map(str::trim) {
        None | Some("") => {
            let mut line = format!(
                "{} {} {} {}",
                format_time(event.time_nano),
                event.kind.as_str(),
                visible(&event.action),
                visible(&event.actor.id)
            );
            if !event.actor.attributes.is_empty() {
                let attrs: Vec<String> =
                    event.actor.attributes.iter().map(|(k, v)| format!("{}={}", visible(k), visible(v))).collect();
                line.push_str(&format!(" ({})", attrs.join(", ")));
            }
            line.push('\n');
            Ok(line)
        }
        _ => match template {
            Some(t) => {
                let value = crate::template::Val::from_json(&event.template_value(), &[]);
                Ok(format!("{}\n", t.execute(&value)?))
            }
            None => Ok(format!("{}\n", serde_json::to_string(event).expect("an event serializes"))),
        },
    }
}

/// `text` with control characters escaped: a label an image chose (or an exec's command)
/// must not forge a line of its own, or drive the terminal.
fn visible(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| if c.is_control() { c.escape_default().to_string() } else { c.to_string() })
        .collect::<String>()
        .into()
}
