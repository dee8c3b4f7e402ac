//! `POST /build`: the classic builder's endpoint, which `docker build` (without buildx)
//! and docker-compose 1.x call. The body is the context as a tar; the answer is
//! Docker's JSON stream (`{"stream": ...}` lines, `{"aux": {"ID": ...}}`, and an
//! `errorDetail` line when the build fails). BuildKit's session protocol (`version=2`)
//! is not spoken: `/_ping` says `Builder-Version: 1`.

use std::collections::BTreeMap;
use std::io::Write;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use lindocker_engine::build::{BuildEvent, BuildProgress, BuildRequest, Context, DockerfileSource};
use serde_json::{Value, json};

use crate::body::{Body, channel};
use crate::error::{ApiError, ApiResult};
use crate::router::{Ctx, Routed, with_status};

/// Routes `POST /build` and `POST /build/prune`.
pub async fn route(ctx: &Ctx, request: Request<Incoming>) -> Routed {
    match (request.method(), ctx.path().as_slice()) {
        (&Method::POST, ["build"]) => Ok(build(ctx, request).await),
        (&Method::POST, ["build", "prune"]) => {
            Ok(Err(ApiError::not_implemented("build cache pruning through the API is not supported")))
        }
        _ => Err(request),
    }
}

/// A JSON object of strings in a query parameter (`buildargs`, `labels`); a null value
/// (a build arg named without a value) is dropped, as Docker takes it from nowhere.
fn string_map(ctx: &Ctx, key: &str) -> ApiResult<BTreeMap<String, String>> {
    let Some(text) = ctx.query.get(key).filter(|t| !t.is_empty()) else { return Ok(BTreeMap::new()) };
    let value: Value = serde_json::from_str(text).map_err(|e| ApiError::bad(format!("{key}: {e}")))?;
    let Value::Object(map) = value else { return Err(ApiError::bad(format!("{key}: expected a JSON object"))) };
    let mut out = BTreeMap::new();
    for (k, v) in map {
        match v {
            Value::String(s) => {
                out.insert(k, s);
            }
            Value::Null => {}
            _ => return Err(ApiError::bad(format!("{key}: the value of {k:?} is not a string"))),
        }
    }
    Ok(out)
}

/// The request's query as a [`BuildRequest`], checked before the body is read.
fn request_of(ctx: &Ctx, context: std::path::PathBuf) -> ApiResult<(BuildRequest, bool)> {
    if ctx.query.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::bad("remote build contexts are not supported; send the context as the body"));
    }
    if ctx.query.get("version") == Some("2") {
        return Err(ApiError::bad(
            "BuildKit (builder version 2) is not supported by lindocker; use the classic builder",
        ));
    }
    let tags: Vec<String> = ctx.query.all("t").into_iter().filter(|t| !t.is_empty()).map(str::to_owned).collect();
    for tag in &tags {
        lindocker_image::reference::parse(tag).map_err(|e| ApiError::bad(e.to_string()))?;
    }
    let network = match ctx.query.get("networkmode").filter(|n| !n.is_empty()) {
        None | Some("default") => None,
        Some(n) => Some(n.to_owned()),
    };
    let request = BuildRequest {
        context: Context::Tar(context),
        dockerfile: DockerfileSource::InContext(
            ctx.query.get("dockerfile").filter(|d| !d.is_empty()).unwrap_or("Dockerfile").to_owned(),
        ),
        tags,
        build_args: string_map(ctx, "buildargs")?,
        target: ctx.query.get("target").filter(|t| !t.is_empty()).map(str::to_owned),
        no_cache: ctx.query.flag("nocache")?,
        pull: ctx.query.get("pull").is_some_and(|p| !p.is_empty() && p != "0" && p != "false"),
        network,
        labels: string_map(ctx, "labels")?,
        platform: ctx.query.get("platform").filter(|p| !p.is_empty()).map(str::to_owned),
        insecure_registries: Vec::new(),
    };
    Ok((request, ctx.query.flag("q")?))
}

/// One JSON line of the stream.
fn line(value: &Value) -> Bytes {
    let mut text = serde_json::to_vec(value).expect("JSON serialises");
    text.push(b'\n');
    Bytes::from(text)
}

/// Progress lines queued for a client at most; beyond, a client that reads too slowly
/// (or not at all) misses lines rather than growing the service's memory, and the build
/// goes on. The last lines (the image id, the error) always wait for room.
const QUEUE: usize = 1024;

/// Build events as `{"stream": ...}` lines, in the plain progress's words.
struct Stream {
    tx: tokio::sync::mpsc::Sender<Bytes>,
    quiet: bool,
    /// Lines dropped since the client last had room.
    dropped: u64,
}

impl Stream {
    fn text(&mut self, text: String) {
        if self.quiet {
            return;
        }
        if self.dropped > 0 {
            let note = format!("[{} lines of output dropped: the client reads too slowly]\n", self.dropped);
            if self.tx.try_send(line(&json!({ "stream": note }))).is_err() {
                self.dropped += 1;
                return;
            }
            self.dropped = 0;
        }
        if let Err(tokio::sync::mpsc::error::TrySendError::Full(_)) = self.tx.try_send(line(&json!({ "stream": text })))
        {
            self.dropped += 1;
        }
    }
}

impl BuildProgress for Stream {
    fn event(&mut self, event: BuildEvent<'_>) {
        match event {
            BuildEvent::Vertex { n, name } => self.text(format!("#{n} {name}\n")),
            BuildEvent::Cached { n } => self.text(format!("#{n} CACHED\n")),
            BuildEvent::Output { n, elapsed, line } => self.text(format!("#{n} {:.3} {line}\n", elapsed.as_secs_f64())),
            BuildEvent::Status { n, text } => self.text(format!("#{n} {text}\n")),
            BuildEvent::Done { n, elapsed } => self.text(format!("#{n} DONE {:.1}s\n", elapsed.as_secs_f64())),
            BuildEvent::Error { n, elapsed, message } => {
                self.text(format!("#{n} ERROR {:.1}s: {message}\n", elapsed.as_secs_f64()))
            }
            BuildEvent::Warning { text } => self.text(format!("[Warning] {text}\n")),
        }
    }
}

/// `POST /build?t=&dockerfile=&buildargs=&labels=&target=&nocache=&pull=&networkmode=&q=`.
async fn build(ctx: &Ctx, request: Request<Incoming>) -> ApiResult<Response<Body>> {
    let images = ctx.service.engine.image_ops();
    let scratch = images.store().scratch_dir().map_err(|e| ApiError::internal(e.to_string()))?;
    let context = scratch.join("context.tar");
    let (build, quiet) = match request_of(ctx, context.clone()) {
        Ok(v) => v,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&scratch);
            return Err(e);
        }
    };
    // The context is kept whole before the build starts: the builder reads it more than
    // once (the Dockerfile, then the sources of each COPY).
    let mut reader = crate::pipes::reader(request.into_body());
    let file = context.clone();
    let saved = crate::body::spawn_long(move || -> std::io::Result<()> {
        let mut out = std::fs::OpenOptions::new().write(true).create_new(true).open(&file)?;
        std::io::copy(&mut reader, &mut out)?;
        out.flush()
    })
    .await;
    if let Err(e) = saved.unwrap_or_else(|_| Err(std::io::Error::other("no thread"))) {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(ApiError::bad(format!("failed to read the build context: {e}")));
    }
    let (sender, body) = channel();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
    tokio::spawn(async move {
        while let Some(chunk) = rx.recv().await {
            if !sender.send(chunk).await {
                break;
            }
        }
    });
    let engine = ctx.service.engine.clone();
    crate::body::spawn_long(move || {
        let mut progress = Stream { tx: tx.clone(), quiet, dropped: 0 };
        let result = engine.build(&build, &mut progress);
        let _ = std::fs::remove_dir_all(&scratch);
        match result {
            Ok(outcome) => {
                let _ = tx.blocking_send(line(&json!({ "aux": { "ID": outcome.id } })));
                if quiet {
                    let _ = tx.blocking_send(line(&json!({ "stream": format!("{}\n", outcome.id) })));
                    return;
                }
                let short: String = outcome.id.trim_start_matches("sha256:").chars().take(12).collect();
                let _ = tx.blocking_send(line(&json!({ "stream": format!("Successfully built {short}\n") })));
                for tag in &outcome.tags {
                    let shown = lindocker_image::reference::familiar(tag);
                    let _ = tx.blocking_send(line(&json!({ "stream": format!("Successfully tagged {shown}\n") })));
                }
            }
            Err(e) => {
                let message = e.to_string();
                let _ = tx.blocking_send(line(
                    &json!({ "errorDetail": { "code": 1, "message": message }, "error": message }),
                ));
            }
        }
    });
    let mut response = with_status(StatusCode::OK, body);
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}
